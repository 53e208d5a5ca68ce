package sqlerr

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
)

// expected is written independently of the table: every documented number and the class sqldr
// gives it. A table edit that changes a class, or adds or drops a number, fails here.
var expected = map[int32]Class{
	18456: ClassUnavailable, 4060: ClassUnavailable, 4062: ClassUnavailable, 4064: ClassUnavailable,
	927: ClassUnavailable, 942: ClassUnavailable, 954: ClassUnavailable, 955: ClassUnavailable,
	921: ClassUnavailable, 922: ClassUnavailable, 926: ClassUnavailable,
	956: ClassTransient, 952: ClassTransient, 1404: ClassTransient, 1422: ClassTransient,
	3101: ClassTransient, 22022: ClassTransient,
	4305: ClassRestoreChain, 4326: ClassRestoreChain, 4330: ClassRestoreChain, 3117: ClassRestoreChain,
	4312: ClassRestoreChain, 4318: ClassRestoreChain, 4319: ClassRestoreChain, 4303: ClassRestoreChain,
	4349: ClassRestoreChain, 4332: ClassRestoreChain, 4333: ClassRestoreChain, 3153: ClassRestoreChain,
	229: ClassPermission, 262: ClassPermission, 3110: ClassPermission, 5011: ClassPermission,
	14525: ClassPermission, 14393: ClassPermission,
	102: ClassPermanent, 207: ClassPermanent, 208: ClassPermanent, 2812: ClassPermanent, 911: ClassPermanent,
	226: ClassPermanent, 3021: ClassPermanent, 1406: ClassPermanent, 1412: ClassPermanent, 1416: ClassPermanent,
	1418: ClassPermanent, 1431: ClassPermanent, 1447: ClassPermanent, 1455: ClassPermanent, 1468: ClassPermanent,
	1470: ClassPermanent, 1477: ClassPermanent, 3104: ClassPermanent, 3059: ClassPermanent, 3159: ClassPermanent,
	4208: ClassPermanent, 4214: ClassPermanent, 14262: ClassPermanent,
	3013: ClassPermanent, 5069: ClassPermanent,
}

func batch(numbers ...int32) error {
	all := make([]mssql.Error, len(numbers))
	for i, n := range numbers {
		all[i] = mssql.Error{Number: n, Class: 16, Message: fmt.Sprintf("error %d", n)}
	}
	last := all[len(all)-1]
	last.All = all
	return last
}

func TestTableEntryByEntry(t *testing.T) {
	if len(table) != len(expected) {
		t.Errorf("table has %d entries, expected list has %d", len(table), len(expected))
	}
	for n, want := range expected {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e, ok := Lookup(n)
			if !ok {
				t.Fatalf("Lookup(%d): missing", n)
			}
			if e.Number != n || e.Text == "" || e.Severity == 0 {
				t.Errorf("entry %+v: want Number %d, a text and a severity", e, n)
			}
			if e.Class != want {
				t.Errorf("entry class = %v, want %v", e.Class, want)
			}
			// Alone.
			if got := Classify(batch(n)); got != want {
				t.Errorf("Classify([%d]) = %v, want %v", n, got, want)
			}
			// Followed by the RESTORE trailer, as go-mssqldb reports it (Number = 3013, All = [n, 3013]).
			if got := Classify(batch(n, 3013)); got != want {
				t.Errorf("Classify([%d 3013]) = %v, want %v", n, got, want)
			}
			// Wrapped with context, as callers do.
			wrapped := fmt.Errorf("restore log f.trn on sec: %w", batch(n, 5069))
			if got := Classify(wrapped); got != want {
				t.Errorf("Classify(wrapped [%d 5069]) = %v, want %v", n, got, want)
			}
			if got, ok := Number(wrapped); !ok || (got != n && !e.Trailer) {
				t.Errorf("Number(wrapped [%d 5069]) = %d, %v", n, got, ok)
			}
		})
	}
	for _, n := range Numbers() {
		if _, ok := expected[n]; !ok {
			t.Errorf("table number %d has no expected class in the test", n)
		}
	}
}

func TestClassifyBatches(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		want   Class
		number int32
	}{
		{"restore gap reports 3013 last", batch(4305, 3013), ClassRestoreChain, 4305},
		{"fork mismatch", batch(4330, 3013), ClassRestoreChain, 4330},
		{"login to restoring db", batch(4060, 18456), ClassUnavailable, 4060},
		{"permission then trailer", batch(262, 3013), ClassPermission, 262},
		{"unknown specific then trailer", batch(50000, 3013), ClassUnknown, 50000},
		{"trailer alone", batch(3013), ClassPermanent, 3013},
		{"unknown then known", batch(50001, 927), ClassUnavailable, 927},
		{"retryable wrapper is a bad connection", mssql.RetryableError{}, ClassConnectivity, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
			n, _ := Number(tt.err)
			if n != tt.number {
				t.Errorf("Number = %d, want %d", n, tt.number)
			}
		})
	}
	fatal := mssql.Error{Number: 50002, Class: 20}
	if got := Classify(fatal); got != ClassConnectivity {
		t.Errorf("severity 20 unknown error: got %v, want connectivity", got)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassifyNetworkAndContext(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassNone},
		{"canceled", fmt.Errorf("probe: %w", context.Canceled), ClassCanceled},
		{"deadline", fmt.Errorf("probe: %w", context.DeadlineExceeded), ClassConnectivity},
		{"bad conn", driver.ErrBadConn, ClassConnectivity},
		{"eof", fmt.Errorf("read: %w", io.EOF), ClassConnectivity},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, ClassConnectivity},
		{"reset", fmt.Errorf("x: %w", syscall.ECONNRESET), ClassConnectivity},
		{"net timeout", timeoutErr{}, ClassConnectivity},
		{"stream error", mssql.StreamError{InnerError: errors.New("bad token")}, ClassConnectivity},
		{"plain", errors.New("something else"), ClassUnknown},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestClassifyRealDial(t *testing.T) {
	// A closed loopback port: the kernel refuses the connection.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = net.Dial("tcp", addr)
	if err == nil {
		t.Skip("port was reused by another process")
	}
	if got := Classify(fmt.Errorf("probe sec: %w", err)); got != ClassConnectivity {
		t.Errorf("Classify(%v) = %v, want connectivity", err, got)
	}
	if ServerAnswered(err) {
		t.Error("a refused dial must not count as the server answering")
	}
	if !ServerAnswered(fmt.Errorf("x: %w", batch(18456))) {
		t.Error("18456 proves the server answered")
	}
}

func TestClassStrings(t *testing.T) {
	seen := map[string]bool{}
	for c := ClassNone; c <= ClassCanceled; c++ {
		s := c.String()
		if s == "" || s == "invalid" || seen[s] {
			t.Errorf("class %d has bad or duplicate name %q", c, s)
		}
		seen[s] = true
	}
	for c := ClassNone; c <= ClassCanceled; c++ {
		b, err := c.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Class
		if err := back.UnmarshalText(b); err != nil || back != c {
			t.Errorf("text round trip of %v: %v %v", c, back, err)
		}
	}
	var bad Class
	if err := bad.UnmarshalText([]byte("nope")); err == nil {
		t.Error("unknown class name accepted")
	}
	if _, err := Class(200).MarshalText(); err == nil {
		t.Error("invalid class marshalled")
	}
	if Class(200).String() != "invalid" {
		t.Error("out-of-range class must print invalid")
	}
	if !ClassUnavailable.ServerAnswered() || ClassConnectivity.ServerAnswered() {
		t.Error("ServerAnswered wrong for unavailable/connectivity")
	}
}
