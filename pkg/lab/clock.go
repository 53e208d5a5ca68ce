package lab

import (
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Clock tells the topology what simulated instant it is. The simulated time is
// always UTC; instances apply their own skew and time zone on top of it.
type Clock interface {
	Now() time.Time
}

// ManualClock is a Clock that moves only when told to: tests step it.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock set to start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start.UTC()}
}

// Now returns the current simulated instant.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (d must not be negative).
func (c *ManualClock) Advance(d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("lab: ManualClock.Advance with negative duration %s", d))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// ScaledClock runs simulated time at Speed times a base clock, starting at Start:
// with Speed 60 one simulated minute passes per real second.
type ScaledClock struct {
	base      clock.PassiveClock
	baseStart time.Time
	start     time.Time
	speed     float64
}

// NewScaledClock returns a clock that reads start at the moment of the call and
// then advances speed times faster than base. speed must be positive.
func NewScaledClock(base clock.PassiveClock, start time.Time, speed float64) (*ScaledClock, error) {
	if speed <= 0 {
		return nil, fmt.Errorf("lab: clock speed must be positive, got %g", speed)
	}
	return &ScaledClock{base: base, baseStart: base.Now(), start: start.UTC(), speed: speed}, nil
}

// Now returns the current simulated instant.
func (c *ScaledClock) Now() time.Time {
	elapsed := c.base.Since(c.baseStart)
	return c.start.Add(time.Duration(float64(elapsed) * c.speed))
}

// Speed is the acceleration factor.
func (c *ScaledClock) Speed() float64 { return c.speed }

// RealDuration converts a simulated duration to the base clock's duration.
func (c *ScaledClock) RealDuration(sim time.Duration) time.Duration {
	return time.Duration(float64(sim) / c.speed)
}
