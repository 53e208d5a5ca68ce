package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no args prints help", args: nil, wantCode: exitOK, wantStdout: "Usage:"},
		{name: "root help", args: []string{"--help"}, wantCode: exitOK, wantStdout: "Exit codes: 0 success, 1 failure, 2 usage error."},
		{name: "version help", args: []string{"version", "--help"}, wantCode: exitOK, wantStdout: "Print the module version"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: exitUsage, wantStderr: `unknown command "frobnicate"`},
		{name: "unknown flag", args: []string{"--no-such-flag"}, wantCode: exitUsage, wantStderr: "unknown flag: --no-such-flag"},
		{name: "unknown flag on subcommand", args: []string{"version", "--bogus"}, wantCode: exitUsage, wantStderr: "Run 'sqldr version --help' for usage."},
		{name: "stray argument", args: []string{"version", "extra"}, wantCode: exitUsage, wantStderr: `unknown command "extra"`},
		{name: "version", args: []string{"version"}, wantCode: exitOK, wantStdout: "go:       " + runtime.Version()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("run(%q) = %d, want %d\nstdout: %s\nstderr: %s", tt.args, code, tt.wantCode, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestBuildInfoWrite(t *testing.T) {
	var out bytes.Buffer
	bi := BuildInfo{Module: "m", Version: "v1.2.3", Revision: "abc123", Time: "2026-11-28T16:00:00Z", Modified: true, GoVersion: "go1.26.8", Platform: "linux/amd64"}
	if err := bi.write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sqldr v1.2.3", "revision: abc123 (modified)", "built:    2026-11-28T16:00:00Z", "go:       go1.26.8"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	out.Reset()
	if err := (BuildInfo{}).write(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "revision: unknown (built without VCS information)") {
		t.Errorf("missing-revision output %q", out.String())
	}
}
