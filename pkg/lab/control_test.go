package lab

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestControlAPI(t *testing.T) {
	f := startTCP(t, nil)
	cs, err := f.lab.ServeControl("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	if _, err := f.lab.ServeControl("0.0.0.0:0"); err == nil {
		t.Fatal("control API accepted a non-loopback address")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := &ControlClient{BaseURL: "http://" + cs.Addr()}
	st, err := c.Status(ctx)
	if err != nil || len(st.Instances) != 3 || st.Instances[0].Addr == "" || st.Instances[0].Databases[0].State != "ONLINE" {
		t.Fatalf("status: %+v %v", st, err)
	}
	id, err := c.Inject(ctx, Fault{Kind: FaultDown, Target: "mirror"})
	if err != nil {
		t.Fatal(err)
	}
	st, _ = c.Status(ctx)
	if st.Instances[1].Health != "down" || len(st.Faults) != 1 || st.Faults[0].ID != id {
		t.Fatalf("after inject: %+v", st)
	}
	if _, err := c.Inject(ctx, Fault{Kind: "explode", Target: "mirror"}); err == nil || !strings.Contains(err.Error(), "unknown fault kind") {
		t.Fatalf("bad fault: %v", err)
	}
	if err := c.Heal(ctx, 999); err == nil {
		t.Fatal("healing an unknown fault succeeded")
	}
	if err := c.Heal(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Inject(ctx, Fault{Kind: FaultShareDown}); err != nil {
		t.Fatal(err)
	}
	if n, err := c.HealAll(ctx); err != nil || n != 1 {
		t.Fatalf("heal all: %d %v", n, err)
	}
	st, _ = c.Status(ctx)
	if st.Instances[1].Health != "up" || len(st.Faults) != 0 {
		t.Fatalf("after heal: %+v", st)
	}
	// The workload moves to the secondary once it is promoted.
	if err := c.SetWorkload(ctx, "nosuch", true); err == nil {
		t.Fatal("workload on an unknown instance accepted")
	}
	sec := f.sa("secondary")
	if _, err := sec.ExecContext(ctx, "RESTORE DATABASE mgc WITH RECOVERY"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWorkload(ctx, "secondary", true); err != nil {
		t.Fatal(err)
	}
	f.advance(10 * time.Second)
	var n int
	if err := sec.QueryRowContext(ctx, "SELECT COUNT(*) FROM mgc.dbo.messages WHERE body = N'SQLB1'").Scan(&n); err != nil || n < 9 {
		t.Fatalf("workload rows on the promoted secondary: %d %v", n, err)
	}
}
