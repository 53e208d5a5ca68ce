package dsn

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := map[string]string{"GOOD": "  sqlserver://sa:s3cret@h  ", "BLANK": "  "}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name    string
		src     Source
		want    string
		wantErr string
	}{
		{"env", Source{Env: "GOOD"}, "sqlserver://sa:s3cret@h", ""},
		{"file", Source{File: write("dsn", "\nsqlserver://sa:s3cret@f\n")}, "sqlserver://sa:s3cret@f", ""},
		{"env unset", Source{Env: "UNSET"}, "", "environment variable UNSET (dsn_env) is not set"},
		{"env blank", Source{Env: "BLANK"}, "", "environment variable BLANK (dsn_env) is not set"},
		{"empty file", Source{File: write("empty", " \n")}, "", "is empty"},
		{"missing file", Source{File: filepath.Join(dir, "nope")}, "", "read dsn_file"},
		{"both", Source{Env: "GOOD", File: "x"}, "", "both dsn_env and dsn_file"},
		{"neither", Source{}, "", "neither dsn_env nor dsn_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(tt.src, lookup, os.ReadFile)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Read = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := Read(Source{File: filepath.Join(dir, "nope")}, lookup, os.ReadFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file's error should wrap fs.ErrNotExist: %v", err)
	}
}

func TestParseMaster(t *testing.T) {
	tests := []struct {
		dsn     string
		wantErr string
	}{
		{"sqlserver://sa:s3cret@127.0.0.1:1?database=master", ""},
		{"sqlserver://sa:s3cret@127.0.0.1:1?database=MASTER", ""},
		{"sqlserver://sa:s3cret@127.0.0.1:1", ""},
		{"sqlserver://sa:s3cret@127.0.0.1:1?database=mgc", `names database "mgc"; sqldr connects to master`},
		{"sqlserver://sa:s3cret@[::1:bad?x=%zz", "cannot be parsed"},
	}
	for _, tt := range tests {
		cfg, err := ParseMaster(tt.dsn)
		if tt.wantErr == "" {
			if err != nil || cfg.Database != "master" {
				t.Errorf("ParseMaster(%q) = %q, %v; want master", tt.dsn, cfg.Database, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseMaster(%q) err = %v, want %q", tt.dsn, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestConnectorBindsSourceAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	from := make(chan string, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			_ = c.Close()
		}
	}()
	cfg, err := ParseMaster("sqlserver://sa:pw@" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DialTimeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		src  netip.Addr
		want string
	}{{netip.MustParseAddr("127.0.0.9"), "127.0.0.9"}, {netip.Addr{}, "127.0.0.1"}} {
		c := Connector(cfg, tc.src)
		if conn, err := c.Connect(ctx); err == nil { // the listener closes at once: the login fails
			_ = conn.Close()
			t.Fatal("connect succeeded against a listener that closes every connection")
		}
		select {
		case got := <-from:
			if got != tc.want {
				t.Errorf("source %v: connection came from %s, want %s", tc.src, got, tc.want)
			}
		case <-ctx.Done():
			t.Fatal("no connection arrived")
		}
	}
}
