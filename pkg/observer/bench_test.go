package observer

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/zap"
	clocktesting "k8s.io/utils/clock/testing"
)

// BenchmarkEvaluate measures the verdict over n observers, each reporting two instances with two
// databases.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{1, 3, 9} {
		b.Run(fmt.Sprintf("observers=%d", n), func(b *testing.B) {
			obs := make([]Tracked, n)
			for i := range obs {
				obs[i] = fresh(fmt.Sprintf("o%d", i), unreachable("SQLA1"), mirrorOnly("SQLA2"))
			}
			b.ReportAllocs()
			for b.Loop() {
				if Evaluate(obs, Rule{Instances: []string{"SQLA1", "SQLA2"}}, t0).Verdict != VerdictNone {
					b.Fatal("unexpected verdict")
				}
			}
		})
	}
}

// BenchmarkCheck measures one daemon cycle's Check against n observers on loopback (HTTP, kept-alive
// connections): request, JSON decoding, validation, tracking and Evaluate.
func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("observers=%d", n), func(b *testing.B) {
			var eps []Endpoint
			for i := range n {
				srv, stop := benchServer(b)
				defer stop()
				eps = append(eps, Endpoint{Name: fmt.Sprintf("o%d", i), URL: "http://" + srv.Addr(), TokenFile: srv.opts.TokenFile})
			}
			c, err := NewClient(zap.NewNop(), ClientOptions{Observers: eps}, clocktesting.NewFakePassiveClock(t0))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if res := c.Check(ctx); res.Observers[0].State == StateUnreachable {
					b.Fatalf("unreachable: %s", res.Observers[0].Detail)
				}
			}
		})
	}
}

func benchServer(b *testing.B) (*Server, func()) {
	b.Helper()
	dir := b.TempDir()
	tok := dir + "/token"
	if err := os.WriteFile(tok, []byte(testToken), 0o600); err != nil {
		b.Fatal(err)
	}
	src := &fakeSource{instances: []Instance{serving("SQLA1"), mirrorOnly("SQLA2")}}
	srv, err := NewServer(zap.NewNop(), ServerOptions{Name: "bench", Addr: "127.0.0.1:0", TokenFile: tok, Interval: time.Hour},
		src, clocktesting.NewFakeClock(t0))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := srv.Latest(); ok {
			break
		}
		select {
		case err := <-done:
			b.Fatal(err)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatal("no first observation within 10s")
		}
	}
	return srv, func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
}
