package reconcile

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sqldr/sqldr/controller"
	"github.com/sqldr/sqldr/pkg/observer"
	"github.com/sqldr/sqldr/probes"
)

// DefaultListen is the default address of the HTTP endpoints.
const DefaultListen = "127.0.0.1:9724"

// View is the /status document.
type View struct {
	// Group is the failover group.
	Group string `json:"group"`
	// State is the group's state; Since when it was entered; Reason the transition's reason.
	State  controller.State `json:"state"`
	Since  time.Time        `json:"since,omitzero"`
	Reason string           `json:"reason,omitempty"`
	// Mode is monitor, approval or auto.
	Mode controller.Mode `json:"mode"`
	// Paused is the pause flag.
	Paused bool `json:"paused"`
	// Trusted is false when the loop refuses to act; UntrustedReason says why.
	Trusted         bool   `json:"trusted"`
	UntrustedReason string `json:"untrusted_reason,omitempty"`
	// Diagnoses are the cycle's named findings.
	Diagnoses []controller.Diagnosis `json:"diagnoses,omitempty"`
	// Verdict is "would promote now" with its blocking gates; VerdictText says it in one line.
	Verdict     controller.Verdict `json:"verdict"`
	VerdictText string             `json:"verdict_text"`
	// DataLoss is the group's data-loss window.
	DataLoss LossView `json:"data_loss"`
	// Outage is the hold timer of a suspected site-A loss.
	Outage controller.Outage `json:"outage"`
	// Instances are the probed instances as the last snapshot saw them.
	Instances []InstanceView `json:"instances"`
	// Lag are the log-shipping figures per monitored database.
	Lag []LagView `json:"lag"`
	// Plan is the current plan, with the exact command that approves it while it is pending.
	Plan           *controller.Plan `json:"plan,omitempty"`
	ApproveCommand string           `json:"approve_command,omitempty"`
	// Corroboration is the observers' verdict and each observer's standing.
	Corroboration CorroborationView `json:"corroboration"`
	// Transitions are the recent transitions, oldest first (those journaled before a restart included).
	Transitions []controller.TransitionRecord `json:"transitions"`
	// LastReconcile is when the last cycle finished (the controller's clock); Cycles counts them.
	LastReconcile time.Time `json:"last_reconcile,omitzero"`
	Cycles        uint64    `json:"cycles"`
	// LastError is the last cycle's error ("" when it succeeded).
	LastError string `json:"last_error,omitempty"`
}

// CorroborationView is the observers' verdict with each observer's standing (observer.Result in a
// form that decodes back, for `sqldr status`).
type CorroborationView struct {
	// Verdict is the corroboration verdict; Detail says why.
	Verdict observer.Verdict `json:"verdict"`
	Detail  string           `json:"detail,omitempty"`
	// Quorum is the quorum that applied.
	Quorum int `json:"quorum"`
	// Observers is every configured observer's standing.
	Observers []ObserverView `json:"observers,omitempty"`
}

// ObserverView is one observer's standing in /status.
type ObserverView struct {
	// Observer is its configured name; State its standing (fresh, stale, unreachable, …); View what
	// it says about site A when fresh; Detail why.
	Observer string `json:"observer"`
	State    string `json:"state"`
	View     string `json:"view"`
	Detail   string `json:"detail,omitempty"`
	// BootID and Sequence identify its latest report; AgeSeconds is that report's age on the
	// controller's clock.
	BootID     string  `json:"boot_id,omitempty"`
	Sequence   uint64  `json:"sequence,omitempty"`
	AgeSeconds float64 `json:"age_seconds"`
	// Instances is its latest view of site A.
	Instances []observer.Instance `json:"instances,omitempty"`
}

func corroborationView(r observer.Result) CorroborationView {
	v := CorroborationView{Verdict: r.Verdict, Detail: r.Detail, Quorum: r.Quorum}
	for _, o := range r.Observers {
		v.Observers = append(v.Observers, ObserverView{Observer: o.Observer, State: o.State.String(), View: o.View.String(),
			Detail: o.Detail, BootID: o.BootID, Sequence: o.Sequence, AgeSeconds: o.Age.Seconds(), Instances: o.Instances})
	}
	return v
}

// LossView is a data-loss figure in seconds (null when unknown).
type LossView struct {
	// Known is false when a figure the window depends on is unknown (then both figures are null).
	Known bool `json:"known"`
	// WindowSeconds is what a promotion now would lose; UncertaintySeconds its uncertainty.
	WindowSeconds      *float64 `json:"window_seconds"`
	UncertaintySeconds *float64 `json:"uncertainty_seconds"`
	// Text is "7m12s ± 30s" or "unknown".
	Text string `json:"text"`
}

// InstanceView is one instance in /status.
type InstanceView struct {
	// Name, Site and Role are as configured.
	Name string      `json:"name"`
	Site probes.Site `json:"site"`
	Role string      `json:"role"`
	// Reachability is how the instance answered the last probe; SQLErrorNumber and Error say why
	// it refused or failed.
	Reachability   probes.Reachability `json:"reachability"`
	SQLErrorNumber int32               `json:"sql_error_number,omitempty"`
	Error          string              `json:"error,omitempty"`
	// RTTSeconds is the probe's round trip; ServerUTC the instance's own clock in that probe.
	RTTSeconds float64   `json:"rtt_seconds"`
	ServerUTC  time.Time `json:"server_utc,omitzero"`
	// Databases are the protected databases as the instance showed them.
	Databases []DatabaseView `json:"databases,omitempty"`
}

// DatabaseView is one database on one instance in /status.
type DatabaseView struct {
	// Name is the database; State its sys.databases state_desc.
	Name  string         `json:"name"`
	State probes.DBState `json:"state"`
	// Writable is ONLINE, READ_WRITE and not in STANDBY.
	Writable bool `json:"writable"`
	// Standby and ReadOnly are sys.databases.is_in_standby and is_read_only.
	Standby  bool `json:"standby,omitempty"`
	ReadOnly bool `json:"read_only,omitempty"`
	// MirroringRole and MirroringState are from sys.database_mirroring.
	MirroringRole  probes.MirroringRole  `json:"mirroring_role,omitempty"`
	MirroringState probes.MirroringState `json:"mirroring_state,omitempty"`
}

// LagView are the log-shipping figures of one database, in seconds (null when unknown).
type LagView struct {
	// Database is the monitored database.
	Database string `json:"database"`
	// BackupAgeSeconds, CopyAgeSeconds and RestoreAgeSeconds are the ages of the newest log backup,
	// copy and restore, each on the clock of the server that recorded it; RestoreLatencySeconds is
	// last_restored_latency.
	BackupAgeSeconds      *float64 `json:"backup_age_seconds"`
	CopyAgeSeconds        *float64 `json:"copy_age_seconds"`
	RestoreAgeSeconds     *float64 `json:"restore_age_seconds"`
	RestoreLatencySeconds *float64 `json:"restore_latency_seconds"`
	// UnrestoredFiles is how many log backups the secondary has not restored yet.
	UnrestoredFiles *int `json:"unrestored_files"`
}

func seconds(f probes.Figure) *float64 {
	if !f.Known {
		return nil
	}
	v := f.Value.Seconds()
	return &v
}

// View returns the /status document.
func (l *Loop) View() View {
	l.mu.Lock()
	st, snap, corr := l.st, l.snap, l.corr
	v := View{Group: st.Group, State: st.State, Since: st.Since, Reason: st.Reason, Paused: st.Paused,
		Trusted: l.untrusted == "", UntrustedReason: l.untrusted, LastReconcile: l.lastReconcile, Cycles: l.cycles,
		LastError: l.lastErr}
	l.mu.Unlock()
	v.Mode = l.d.Controller.Options().Mode
	v.Diagnoses, v.Verdict, v.VerdictText, v.Outage = st.Diagnoses, st.Verdict, st.Verdict.String(), st.Outage
	v.DataLoss = LossView{Known: st.DataLoss.Known, Text: st.DataLoss.String()}
	if st.DataLoss.Known {
		w, u := st.DataLoss.Window.Seconds(), st.DataLoss.Uncertainty.Seconds()
		v.DataLoss.WindowSeconds, v.DataLoss.UncertaintySeconds = &w, &u
	}
	v.Plan = st.Plan
	if st.Plan != nil && st.State == controller.StateAwaitingApproval {
		v.ApproveCommand = l.approveCommand(st.Plan)
	}
	v.Corroboration = corroborationView(corr)
	l.mu.Lock()
	v.Transitions = slices.Clone(l.history)
	l.mu.Unlock()
	if v.Transitions == nil {
		v.Transitions = []controller.TransitionRecord{}
	}
	v.Instances = []InstanceView{}
	v.Lag = []LagView{}
	if snap != nil {
		for i := range snap.Instances {
			in := &snap.Instances[i]
			iv := InstanceView{Name: in.Name, Site: in.Site, Role: in.Role.String(), Reachability: in.Reachability,
				SQLErrorNumber: in.SQLErrorNumber, Error: in.Err, RTTSeconds: in.RTT.Seconds(), ServerUTC: in.ServerUTC}
			for j := range in.Databases {
				d := &in.Databases[j]
				iv.Databases = append(iv.Databases, DatabaseView{Name: d.Name, State: d.State, Writable: d.Writable(),
					Standby: d.Standby, ReadOnly: d.ReadOnly, MirroringRole: d.Mirroring.Role, MirroringState: d.Mirroring.State})
			}
			v.Instances = append(v.Instances, iv)
		}
		for _, db := range l.opts.Databases {
			lag := probes.ComputeLag(snap, db)
			lv := LagView{Database: db, BackupAgeSeconds: seconds(lag.BackupAge), CopyAgeSeconds: seconds(lag.CopyAge),
				RestoreAgeSeconds: seconds(lag.RestoreAge), RestoreLatencySeconds: seconds(lag.RestoreLatency)}
			if lag.UnrestoredKnown {
				n := lag.UnrestoredFiles
				lv.UnrestoredFiles = &n
			}
			v.Lag = append(v.Lag, lv)
		}
	}
	return v
}

// Handler serves /metrics (from gatherer; nil means no /metrics), /healthz (the process runs),
// /readyz (a reconcile finished within ReadyAfter) and /status (View as JSON). Every endpoint is
// read-only: any method other than GET or HEAD gets 405.
func (l *Loop) Handler(gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	if gatherer != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !l.Ready(l.d.Clock.Now()) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("no reconcile finished recently\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(l.View())
	})
	return readOnly(mux)
}

// readOnly refuses every method but GET and HEAD.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only: changes go through signal files", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}
