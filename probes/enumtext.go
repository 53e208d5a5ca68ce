package probes

import (
	"fmt"
	"strings"
)

// Every enumeration of the snapshot marshals to its name in JSON (for /status and logs) and parses
// back from it, case-insensitively.

func enumText(names []string, v int, kind string) ([]byte, error) {
	if v < 0 || v >= len(names) {
		return nil, fmt.Errorf("marshal %s: invalid value %d", kind, v)
	}
	return []byte(names[v]), nil
}

func enumParse(names []string, b []byte, kind string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(n, string(b)) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("parse %s: unknown value %q", kind, b)
}

// MarshalText implements encoding.TextMarshaler.
func (r Role) MarshalText() ([]byte, error) { return enumText(roleNames[:], int(r), "role") }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := enumParse(roleNames[:], b, "role")
	*r = Role(v)
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (r Reachability) MarshalText() ([]byte, error) {
	return enumText(reachNames[:], int(r), "reachability")
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Reachability) UnmarshalText(b []byte) error {
	v, err := enumParse(reachNames[:], b, "reachability")
	*r = Reachability(v)
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (s DBState) MarshalText() ([]byte, error) {
	return enumText(dbStateNames[:], int(s), "database state")
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *DBState) UnmarshalText(b []byte) error {
	v, err := enumParse(dbStateNames[:], b, "database state")
	*s = DBState(v)
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (u UserAccess) MarshalText() ([]byte, error) {
	return enumText(userAccessNames[:], int(u), "user access")
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (u *UserAccess) UnmarshalText(b []byte) error {
	v, err := enumParse(userAccessNames[:], b, "user access")
	*u = UserAccess(v)
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (m RecoveryModel) MarshalText() ([]byte, error) {
	return enumText(recoveryModelNames[:], int(m), "recovery model")
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *RecoveryModel) UnmarshalText(b []byte) error {
	v, err := enumParse(recoveryModelNames[:], b, "recovery model")
	*m = RecoveryModel(v)
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (v MirroringVisibility) MarshalText() ([]byte, error) {
	return enumText(visibilityNames[:], int(v), "mirroring visibility")
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *MirroringVisibility) UnmarshalText(b []byte) error {
	x, err := enumParse(visibilityNames[:], b, "mirroring visibility")
	*v = MirroringVisibility(x)
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (r MirroringRole) MarshalText() ([]byte, error) {
	return enumText(mirroringRoleNames[:], int(r), "mirroring role")
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *MirroringRole) UnmarshalText(b []byte) error {
	v, err := enumParse(mirroringRoleNames[:], b, "mirroring role")
	*r = MirroringRole(v)
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (s MirroringState) MarshalText() ([]byte, error) {
	return enumText(mirroringStateNames[:], int(s), "mirroring state")
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *MirroringState) UnmarshalText(b []byte) error {
	v, err := enumParse(mirroringStateNames[:], b, "mirroring state")
	*s = MirroringState(v)
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (s SafetyLevel) MarshalText() ([]byte, error) {
	return enumText(safetyNames[:], int(s), "safety level")
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *SafetyLevel) UnmarshalText(b []byte) error {
	v, err := enumParse(safetyNames[:], b, "safety level")
	*s = SafetyLevel(v)
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (w WitnessState) MarshalText() ([]byte, error) {
	return enumText(witnessNames[:], int(w), "witness state")
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (w *WitnessState) UnmarshalText(b []byte) error {
	v, err := enumParse(witnessNames[:], b, "witness state")
	*w = WitnessState(v)
	return err
}
