package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildRevision and buildTime may be set with -ldflags -X when the build has no VCS stamp
// (for example a build from a source archive). The Go build info wins when it has them.
var (
	buildRevision = ""
	buildTime     = ""
)

// BuildInfo is what `sqldr version` reports.
type BuildInfo struct {
	Module    string
	Version   string
	Revision  string
	Time      string
	Modified  bool
	GoVersion string
	Platform  string
}

// readBuildInfo collects the module version, VCS revision and Go version from the binary.
func readBuildInfo() BuildInfo {
	bi := BuildInfo{
		Module:    "github.com/sqldr/sqldr",
		Version:   "(devel)",
		Revision:  buildRevision,
		Time:      buildTime,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	if info.Main.Path != "" {
		bi.Module = info.Main.Path
	}
	if info.Main.Version != "" {
		bi.Version = info.Main.Version
	}
	if info.GoVersion != "" {
		bi.GoVersion = info.GoVersion
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Revision = s.Value
		case "vcs.time":
			bi.Time = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	return bi
}

// write prints the build information, one field per line.
func (bi BuildInfo) write(w io.Writer) error {
	rev := bi.Revision
	if rev == "" {
		rev = "unknown (built without VCS information)"
	} else if bi.Modified {
		rev += " (modified)"
	}
	t := bi.Time
	if t == "" {
		t = "unknown"
	}
	_, err := fmt.Fprintf(w, "sqldr %s\n  module:   %s\n  revision: %s\n  built:    %s\n  go:       %s\n  platform: %s\n",
		bi.Version, bi.Module, rev, t, bi.GoVersion, bi.Platform)
	return err
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the module version, VCS revision and Go version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return readBuildInfo().write(cmd.OutOrStdout())
		},
	}
}
