package lab

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sqldr/sqldr/pkg/lab/engine"
)

// GUID is a uniqueidentifier in canonical (display) byte order.
type GUID [16]byte

// String renders the GUID in upper case, as SQL Server displays it.
func (g GUID) String() string {
	h := hex.EncodeToString(g[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// IsZero reports whether the GUID is all zeros (used for NULL).
func (g GUID) IsZero() bool { return g == GUID{} }

// DBState is sys.databases.state: the engine's type, so the topology and the
// engine share one definition of the states and their state_desc spelling.
type DBState = engine.DatabaseState

// Database states the topology uses (SQLSERVER.md §3.2). STANDBY is ONLINE with
// IsInStandby set.
const (
	StateOnline     = engine.StateOnline
	StateRestoring  = engine.StateRestoring
	StateRecovering = engine.StateRecovering
	StateOffline    = engine.StateOffline
)

// UserAccess is sys.databases.user_access.
type UserAccess uint8

// User access modes.
const (
	MultiUser      UserAccess = 0
	SingleUser     UserAccess = 1
	RestrictedUser UserAccess = 2
)

// String is sys.databases.user_access_desc.
func (u UserAccess) String() string {
	switch u {
	case SingleUser:
		return "SINGLE_USER"
	case RestrictedUser:
		return "RESTRICTED_USER"
	}
	return "MULTI_USER"
}

// RecoveryModel is sys.databases.recovery_model.
type RecoveryModel uint8

// Recovery models.
const (
	RecoveryFull       RecoveryModel = 1
	RecoveryBulkLogged RecoveryModel = 2
	RecoverySimple     RecoveryModel = 3
)

// String is sys.databases.recovery_model_desc.
func (r RecoveryModel) String() string {
	switch r {
	case RecoveryBulkLogged:
		return "BULK_LOGGED"
	case RecoverySimple:
		return "SIMPLE"
	}
	return "FULL"
}

// MirrorRole is sys.database_mirroring.mirroring_role.
type MirrorRole uint8

// Mirroring roles; RoleNone means not mirrored.
const (
	RoleNone      MirrorRole = 0
	RolePrincipal MirrorRole = 1
	RoleMirror    MirrorRole = 2
)

// String is mirroring_role_desc.
func (r MirrorRole) String() string {
	switch r {
	case RolePrincipal:
		return "PRINCIPAL"
	case RoleMirror:
		return "MIRROR"
	}
	return ""
}

// MirrorState is sys.database_mirroring.mirroring_state (only 0–4 are emitted, §8 Q10).
type MirrorState uint8

// Mirroring states.
const (
	MirrorSuspended       MirrorState = 0
	MirrorDisconnected    MirrorState = 1
	MirrorSynchronizing   MirrorState = 2
	MirrorPendingFailover MirrorState = 3
	MirrorSynchronized    MirrorState = 4
)

// String is mirroring_state_desc.
func (s MirrorState) String() string {
	switch s {
	case MirrorSuspended:
		return "SUSPENDED"
	case MirrorDisconnected:
		return "DISCONNECTED"
	case MirrorSynchronizing:
		return "SYNCHRONIZING"
	case MirrorPendingFailover:
		return "PENDING_FAILOVER"
	case MirrorSynchronized:
		return "SYNCHRONIZED"
	}
	return "UNKNOWN"
}

// Safety is the mirroring safety level (mirroring_safety_level).
type Safety uint8

// Safety levels.
const (
	SafetyUnknown Safety = 0
	SafetyOff     Safety = 1
	SafetyFull    Safety = 2
)

// String is mirroring_safety_level_desc.
func (s Safety) String() string {
	switch s {
	case SafetyOff:
		return "OFF"
	case SafetyFull:
		return "FULL"
	}
	return "UNKNOWN"
}

// Health is how an instance answers on the network.
type Health uint8

// Instance health values; a fault moves an instance away from HealthUp.
const (
	HealthUp   Health = iota // answers normally
	HealthDown               // listener closed, connections reset
	HealthHung               // accepts TCP, never answers
	HealthSlow               // answers after a delay per reply
)

// String names the health for status output.
func (h Health) String() string {
	switch h {
	case HealthDown:
		return "down"
	case HealthHung:
		return "hung"
	case HealthSlow:
		return "slow"
	}
	return "up"
}

// Message is one row of a protected database's dbo.messages table. Rows are tied to
// the LSN of the transaction that inserted them, so they travel with the log.
type Message struct {
	ID int64
	// Created is the inserting instance's local wall-clock time.
	Created time.Time
	// LSN is the log record of the insert.
	LSN LSN
	// Body is free text (the workload writes its instance name).
	Body string
}

// Login is the identity a statement runs under.
type Login struct {
	Name string
	// Sysadmin is true for sa; false for the monitoring-only login, which holds
	// VIEW SERVER STATE, VIEW ANY DATABASE and db_datareader in msdb (SQLSERVER.md §8 Q14).
	Sysadmin bool
}
