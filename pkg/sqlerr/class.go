// Package sqlerr classifies errors returned by SQL Server (through go-mssqldb) and by the network
// into a small set of classes the controller can act on.
//
// Classification is by SQL Server error number, and it scans every error of a batch
// (mssql.Error.All), not only the last one: a failed RESTORE reports the specific error first and
// the generic 3013 trailer last.
package sqlerr

import "fmt"

// Class is the kind of failure an error represents. The zero value is ClassNone (no error).
type Class uint8

const (
	// ClassNone means there was no error.
	ClassNone Class = iota
	// ClassUnknown is an error that could not be classified; treat it as permanent for decisions.
	ClassUnknown
	// ClassConnectivity means the server could not be reached or the connection broke: TCP refused,
	// dial timeout, connection reset, driver.ErrBadConn, context deadline. The server may be dead.
	ClassConnectivity
	// ClassUnavailable means the server answered but refused the request because a database or the
	// login is not usable (927, 942, 4060, 954, 18456, ...). The server is alive.
	ClassUnavailable
	// ClassTransient is a condition documented as temporary ("retry later"): busy, in transition.
	ClassTransient
	// ClassRestoreChain is a log-chain problem during RESTORE (4305, 4326, 4330, 3117, ...).
	ClassRestoreChain
	// ClassPermission means the login lacks a permission (229, 262, 3110, 5011, 14525, ...).
	ClassPermission
	// ClassPermanent is a server error that retrying will not fix (syntax, invalid object, ...).
	ClassPermanent
	// ClassCanceled means the caller's context was canceled (not a deadline): nothing is known
	// about the server.
	ClassCanceled
)

var classNames = [...]string{
	ClassNone:         "none",
	ClassUnknown:      "unknown",
	ClassConnectivity: "connectivity",
	ClassUnavailable:  "unavailable",
	ClassTransient:    "transient",
	ClassRestoreChain: "restore_chain",
	ClassPermission:   "permission",
	ClassPermanent:    "permanent",
	ClassCanceled:     "canceled",
}

// String returns the snake_case name of the class, suitable for log fields and metric labels.
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "invalid"
}

// ServerAnswered reports whether an error of this class proves that the server was alive and
// answering (it sent a SQL error), as opposed to a network-level failure.
func (c Class) ServerAnswered() bool {
	switch c {
	case ClassUnavailable, ClassTransient, ClassRestoreChain, ClassPermission, ClassPermanent:
		return true
	default:
		return false
	}
}

// MarshalText implements encoding.TextMarshaler: a class marshals to its name.
func (c Class) MarshalText() ([]byte, error) {
	if int(c) >= len(classNames) {
		return nil, fmt.Errorf("marshal sqlerr class: invalid value %d", c)
	}
	return []byte(classNames[c]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Class) UnmarshalText(b []byte) error {
	for i, n := range classNames {
		if n == string(b) {
			*c = Class(i)
			return nil
		}
	}
	return fmt.Errorf("parse sqlerr class: unknown value %q", b)
}
