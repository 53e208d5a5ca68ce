package runbook

import (
	"testing"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/controller"
)

// BenchmarkPromotion measures the whole runbook (eight steps, final copy and
// restore of pending logs, recovery) against the lab over TCP; the lab's
// setup is not timed. It reports the statements sent per promotion.
func BenchmarkPromotion(b *testing.B) {
	var statements float64
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, envOption{})
		e.shipThenLoseSiteA()
		ex, err := New(zap.NewNop(), e.opts, e.ex.deps)
		if err != nil {
			b.Fatal(err)
		}
		e.ex = ex
		b.StartTimer()
		for _, s := range controller.Runbook {
			res, err := e.exec(e.req(controller.ActionRunStep, s))
			if err != nil || res[len(res)-1].Outcome != controller.OutcomeDone {
				b.Fatalf("step %s: %+v %v", s, res, err)
			}
		}
		b.StopTimer()
		statements += float64(e.sent(""))
		b.StartTimer()
	}
	b.ReportMetric(statements/float64(b.N), "statements/op")
}
