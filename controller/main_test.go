package controller

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
)

// TestMain raises rapid's default number of random histories (each takes
// well under a millisecond) unless -rapid.checks was given, and checks that
// no test leaks a goroutine.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.checks" })
	if f := flag.Lookup("rapid.checks"); f != nil && !explicit {
		if err := f.Value.Set("1000"); err != nil {
			panic(err)
		}
	}
	goleak.VerifyTestMain(m)
}
