package runbook

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sqldr/sqldr/pkg/config"
)

func TestOpenPoolsOverTCP(t *testing.T) {
	h := newHarness(t, nil)
	dsnA, _ := h.lab.DSN("SQLA1")
	dsnB, _ := h.lab.DSN("SQLB1")
	c := &config.Config{Instances: []config.Instance{
		{Name: "SQLA1", DSNEnv: "A1", ConnectTimeout: time.Second},
		{Name: "SQLB1", DSNFile: "/etc/sqldr/b1.dsn", ConnectTimeout: time.Second, SourceAddress: netip.MustParseAddr("127.0.0.1")},
	}}
	env := map[string]string{"A1": dsnA}
	p, err := openPools(c, func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		func(string) ([]byte, error) { return []byte("  " + dsnB + "\n"), nil })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	for _, name := range []string{"SQLA1", "SQLB1"} {
		db, err := p.Conn(name)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := query(context.Background(), db, "SELECT @@SERVERNAME")
		if err != nil || len(rows) != 1 || str(rows[0][0]) != name {
			t.Fatalf("%s: server %v %v", name, rows, err)
		}
	}
	if _, err := p.Conn("nope"); err == nil {
		t.Fatal("unknown instance accepted")
	}
}

func TestOpenPoolsErrorsNeverQuoteTheDSN(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	noFile := func(string) ([]byte, error) { return nil, os.ErrNotExist }
	cases := []struct {
		in   config.Instance
		env  string
		want string
	}{
		{config.Instance{Name: "A", DSNEnv: "MISSING"}, "", "instance A: environment variable MISSING (dsn_env) is not set"},
		{config.Instance{Name: "B", DSNFile: "/x"}, "", "instance B: read dsn_file: file does not exist"},
		{config.Instance{Name: "C", DSNEnv: "E"}, "sqlserver://sa:s3cret@h?database=mgc", `instance C: the DSN names database "mgc"; sqldr connects to master`},
		{config.Instance{Name: "D", DSNEnv: "E"}, "sqlserver://sa:s3cret@h:99999999?dial+timeout=x", "instance D: the DSN cannot be parsed (check its syntax)"},
	}
	for _, c := range cases {
		lookup := none
		if c.env != "" {
			lookup = func(string) (string, bool) { return c.env, true }
		}
		_, err := openPools(&config.Config{Instances: []config.Instance{c.in}}, lookup, noFile)
		if err == nil || err.Error() != c.want || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("%s: got %v, want %s", c.in.Name, err, c.want)
		}
		if c.in.DSNFile != "" && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: not wrapped: %v", c.in.Name, err)
		}
	}
}
