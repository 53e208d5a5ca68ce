package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Status is the lab's state as the control API reports it.
type Status struct {
	// Now is the simulated UTC instant.
	Now       time.Time        `json:"now"`
	Instances []InstanceStatus `json:"instances"`
	Faults    []ActiveFault    `json:"faults"`
}

// InstanceStatus is one instance in Status.
type InstanceStatus struct {
	Name      string           `json:"name"`
	Role      string           `json:"role"`
	Site      string           `json:"site"`
	Addr      string           `json:"addr,omitempty"`
	Health    string           `json:"health"`
	TimeZone  string           `json:"time_zone"`
	LocalTime string           `json:"local_time"`
	Databases []DatabaseStatus `json:"databases,omitempty"`
}

// DatabaseStatus is one protected database in Status.
type DatabaseStatus struct {
	Name          string `json:"name"`
	State         string `json:"state"`
	Standby       bool   `json:"standby,omitempty"`
	UserAccess    string `json:"user_access"`
	MirroringRole string `json:"mirroring_role,omitempty"`
	Mirroring     string `json:"mirroring_state,omitempty"`
	EndOfLogLSN   string `json:"end_of_log_lsn"`
	RedoStartLSN  string `json:"redo_start_lsn,omitempty"`
	Rows          int    `json:"rows"`
	MaxID         int64  `json:"max_id"`
}

// Status reports the lab's state.
func (l *Lab) Status() Status {
	st := l.topo.status()
	for k := range st.Instances {
		if s, err := l.Server(st.Instances[k].Name); err == nil {
			st.Instances[k].Addr = s.Addr()
		}
	}
	return st
}

func (t *Topology) status() Status {
	st := Status{Now: t.Now(), Faults: t.Faults()}
	for _, i := range t.Instances() {
		is := InstanceStatus{Name: i.Name(), Role: i.Role(), Site: i.Site(), Health: i.Net().Health.String(),
			TimeZone: i.Location().String(), LocalTime: i.LocalNow().Format("2006-01-02 15:04:05 MST")}
		for _, d := range i.Databases() {
			if !d.Protected {
				continue
			}
			ds := DatabaseStatus{Name: d.Name, State: d.State.String(), Standby: d.Standby, UserAccess: d.Access.String(),
				EndOfLogLSN: d.EndOfLogLSN.String(), Rows: d.Rows, MaxID: d.MaxID}
			if !d.RedoStartLSN.IsZero() {
				ds.RedoStartLSN = d.RedoStartLSN.String()
			}
			if d.Mirroring != nil {
				ds.MirroringRole, ds.Mirroring = d.Mirroring.Role.String(), d.Mirroring.State.String()
			}
			is.Databases = append(is.Databases, ds)
		}
		st.Instances = append(st.Instances, is)
	}
	return st
}

// ControlHandler is the lab's HTTP/JSON control API:
//
//	GET    /v1/status       the lab's state (Status)
//	POST   /v1/faults       inject a fault (body: Fault) → {"id": n}
//	DELETE /v1/faults/{id}  heal one fault
//	POST   /v1/heal         heal every fault
//	POST   /v1/workload     turn the application workload on or off for an instance
//	                        (body: WorkloadRequest)
func (l *Lab) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, l.Status())
	})
	mux.HandleFunc("POST /v1/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad fault: " + err.Error()})
			return
		}
		id, err := l.topo.Inject(f)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"id": id})
	})
	mux.HandleFunc("DELETE /v1/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err == nil {
			err = l.topo.Heal(id)
		}
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"healed": id})
	})
	mux.HandleFunc("POST /v1/workload", func(w http.ResponseWriter, r *http.Request) {
		var req WorkloadRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<12))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad workload request: " + err.Error()})
			return
		}
		inst, err := l.topo.Instance(req.Instance)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		inst.SetWorkload(req.On)
		writeJSON(w, http.StatusOK, req)
	})
	if l.hub != nil {
		mux.Handle("POST /v1/world/heartbeat", l.HeartbeatHandler())
	}
	mux.HandleFunc("POST /v1/heal", func(w http.ResponseWriter, _ *http.Request) {
		n := len(l.topo.Faults())
		l.topo.HealAll()
		writeJSON(w, http.StatusOK, map[string]int{"healed": n})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WorkloadRequest turns the simulated application's inserts on or off for an
// instance (after a promotion the application writes to the secondary).
type WorkloadRequest struct {
	Instance string `json:"instance"`
	On       bool   `json:"on"`
}

// ControlServer serves the control API on a loopback listener.
type ControlServer struct {
	srv  *http.Server
	addr string
	done chan struct{}
}

// ServeControl starts the control API on addr, which must be a loopback address
// ("127.0.0.1:0" picks a free port).
func (l *Lab) ServeControl(addr string) (*ControlServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("lab: control address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("lab: control address %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("lab: control listen on %s: %w", addr, err)
	}
	cs := &ControlServer{srv: &http.Server{Handler: l.ControlHandler(), ReadHeaderTimeout: 5 * time.Second},
		addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(cs.done)
		if err := cs.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.log.Warn("lab_control_stopped", zap.Error(err))
		}
	}()
	return cs, nil
}

// Addr is the control API's address.
func (c *ControlServer) Addr() string { return c.addr }

// Close stops the control API.
func (c *ControlServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := c.srv.Shutdown(ctx)
	<-c.done
	return err
}

// ControlClient talks to a lab's control API (what `sqldr lab fault|heal|status` use).
type ControlClient struct {
	// BaseURL is "http://127.0.0.1:port".
	BaseURL string
	// HTTP is the client to use (default: one with a 5s timeout).
	HTTP *http.Client
}

func (c *ControlClient) do(ctx context.Context, method, path string, body, out any) error {
	hc := c.HTTP
	if hc == nil {
		// One request per command: no idle connection outlives the call.
		hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("lab control %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("lab control %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("lab control %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<22))
	if err != nil {
		return fmt.Errorf("lab control %s %s: read reply: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("lab control %s %s: %s", method, path, e.Error)
		}
		return fmt.Errorf("lab control %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("lab control %s %s: decode reply: %w", method, path, err)
		}
	}
	return nil
}

// Status fetches the lab's state.
func (c *ControlClient) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// Inject injects a fault and returns its id.
func (c *ControlClient) Inject(ctx context.Context, f Fault) (int, error) {
	var r struct {
		ID int `json:"id"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/faults", f, &r)
	return r.ID, err
}

// Heal heals one fault.
func (c *ControlClient) Heal(ctx context.Context, id int) error {
	return c.do(ctx, http.MethodDelete, "/v1/faults/"+strconv.Itoa(id), nil, nil)
}

// HealAll heals every fault and returns how many there were.
func (c *ControlClient) HealAll(ctx context.Context) (int, error) {
	var r struct {
		Healed int `json:"healed"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/heal", nil, &r)
	return r.Healed, err
}

// SetWorkload turns the application workload on or off for an instance.
func (c *ControlClient) SetWorkload(ctx context.Context, instance string, on bool) error {
	return c.do(ctx, http.MethodPost, "/v1/workload", WorkloadRequest{Instance: instance, On: on}, nil)
}
