package observer

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Path is the HTTP path of the latest observation on an observer.
const Path = "/v1/observation"

// Reachability is how a site-A instance answered the observer's probe. The names are those of
// probes.Reachability.
type Reachability string

// The reachabilities.
const (
	// ReachUnknown: not probed, or the probe was cut short (it proves nothing either way).
	ReachUnknown Reachability = "unknown"
	// ReachUp: the probe batch ran and was read.
	ReachUp Reachability = "up"
	// ReachUnreachable: no SQL Server answered (refused, timed out, reset, hung).
	ReachUnreachable Reachability = "unreachable"
	// ReachRefusing: a SQL Server answered with an error (alive, not usable).
	ReachRefusing Reachability = "refusing"
)

func (r Reachability) valid() bool {
	switch r {
	case ReachUnknown, ReachUp, ReachUnreachable, ReachRefusing:
		return true
	}
	return false
}

// Database is one protected database as the observer saw it on one instance.
type Database struct {
	// Name is the configured database name.
	Name string `json:"name"`
	// Exists reports whether sys.databases showed a row for it.
	Exists bool `json:"exists"`
	// State is sys.databases.state_desc (ONLINE, RESTORING, …; "" when not seen).
	State string `json:"state,omitempty"`
	// MirroringRole is the database's current mirroring role (principal, mirror; "" when not mirrored
	// or not visible).
	MirroringRole string `json:"mirroring_role,omitempty"`
	// Writable is true when the database is ONLINE, READ_WRITE and not in STANDBY.
	Writable bool `json:"writable"`
}

// Instance is one site-A instance in a report.
type Instance struct {
	// Name is the configured instance name.
	Name string `json:"name"`
	// Reachability is the probe's outcome.
	Reachability Reachability `json:"reachability"`
	// SQLErrorNumber is the SQL Server error number when Reachability is refusing.
	SQLErrorNumber int32 `json:"sql_error_number,omitempty"`
	// Error is the probe's error text ("" when up). It never holds a DSN.
	Error string `json:"error,omitempty"`
	// Databases are the protected databases (empty unless up).
	Databases []Database `json:"databases,omitempty"`
}

// Alive reports whether a SQL Server process answered, even with an error.
func (i *Instance) Alive() bool { return i.Reachability == ReachUp || i.Reachability == ReachRefusing }

// Serving reports whether the instance answered and holds a protected database that is ONLINE and
// writable: it is serving the application.
func (i *Instance) Serving() bool {
	if i.Reachability != ReachUp {
		return false
	}
	for _, d := range i.Databases {
		if d.Writable {
			return true
		}
	}
	return false
}

// WritableDatabases lists the names of the instance's writable protected databases.
func (i *Instance) WritableDatabases() []string {
	var out []string
	for _, d := range i.Databases {
		if d.Writable {
			out = append(out, d.Name)
		}
	}
	return out
}

// describe is a short account of the instance for details and logs.
func (i *Instance) describe() string {
	switch {
	case i.Serving():
		return fmt.Sprintf("%s serving (%s writable)", i.Name, strings.Join(i.WritableDatabases(), ", "))
	case i.Reachability == ReachRefusing && i.SQLErrorNumber != 0:
		return fmt.Sprintf("%s alive (refusing, error %d)", i.Name, i.SQLErrorNumber)
	case i.Reachability == ReachUp:
		return fmt.Sprintf("%s alive (up, no protected database writable)", i.Name)
	default:
		return fmt.Sprintf("%s %s", i.Name, i.Reachability)
	}
}

// Report is what an observer serves: its latest observation of site A.
type Report struct {
	// Observer is the observer's configured name.
	Observer string `json:"observer"`
	// BootID identifies one run of the observer process (random, chosen at start). Sequence numbers
	// are comparable only within one boot ID.
	BootID string `json:"boot_id"`
	// Sequence numbers the observations of this run: 1 for the first, one more for each next.
	Sequence uint64 `json:"sequence"`
	// ObservedAt is the observer's own clock when the observation finished. It is for people only:
	// consumers judge freshness by their own clock and by AgeSeconds, never by comparing clocks.
	ObservedAt time.Time `json:"observed_at"`
	// AgeSeconds is how long before this answer was written the observation finished, measured on
	// the observer's clock alone.
	AgeSeconds float64 `json:"age_seconds"`
	// DurationSeconds is how long the observation took.
	DurationSeconds float64 `json:"duration_seconds"`
	// Instances are the site-A instances, in the observer's configuration order.
	Instances []Instance `json:"instances"`
}

// Age is AgeSeconds as a duration.
func (r *Report) Age() time.Duration { return time.Duration(r.AgeSeconds * float64(time.Second)) }

// maxReportAge bounds AgeSeconds so that Age cannot overflow.
const maxReportAge = 100 * 365 * 24 * time.Hour

// Validate reports every problem of a decoded report at once.
func (r *Report) Validate() error {
	var errs []error
	if r.Observer == "" {
		errs = append(errs, errors.New("observer: must not be empty"))
	}
	if r.BootID == "" {
		errs = append(errs, errors.New("boot_id: must not be empty"))
	}
	if r.Sequence == 0 {
		errs = append(errs, errors.New("sequence: must be at least 1"))
	}
	if math.IsNaN(r.AgeSeconds) || r.AgeSeconds < 0 || r.AgeSeconds > maxReportAge.Seconds() {
		errs = append(errs, fmt.Errorf("age_seconds: %v is not a valid age", r.AgeSeconds))
	}
	if len(r.Instances) == 0 {
		errs = append(errs, errors.New("instances: at least one instance is required"))
	}
	seen := map[string]bool{}
	for k, in := range r.Instances {
		if in.Name == "" {
			errs = append(errs, fmt.Errorf("instances[%d].name: must not be empty", k))
		} else if seen[strings.ToLower(in.Name)] {
			errs = append(errs, fmt.Errorf("instances[%d].name: duplicate instance %q", k, in.Name))
		}
		seen[strings.ToLower(in.Name)] = true
		if !in.Reachability.valid() {
			errs = append(errs, fmt.Errorf("instances[%d].reachability: unknown value %q", k, in.Reachability))
		}
		for j, d := range in.Databases {
			if d.Name == "" {
				errs = append(errs, fmt.Errorf("instances[%d].databases[%d].name: must not be empty", k, j))
			}
		}
	}
	return errors.Join(errs...)
}

// instance finds a reported instance by name (case-insensitive).
func (r *Report) instance(name string) (*Instance, bool) {
	for k := range r.Instances {
		if strings.EqualFold(r.Instances[k].Name, name) {
			return &r.Instances[k], true
		}
	}
	return nil, false
}
