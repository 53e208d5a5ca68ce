// Command sqldr is a disaster-recovery controller for SQL Server databases protected by database
// mirroring inside a primary site and log shipping to a secondary site.
//
// main wires flags, configuration and components together and maps errors to exit codes:
// 0 success, 1 failure, 2 usage error. Nothing else lives here.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	_ "time/tzdata" // the lab's instances run in named time zones; images are FROM scratch

	"github.com/spf13/cobra"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks an error in how the command was called (unknown flag, missing argument, bad
// value). It makes the process exit with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "sqldr: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "Run 'sqldr %s --help' for usage.\n", commandPath(root, args))
		return exitUsage
	}
	return exitFailure
}

// commandPath names the subcommand that args select, for the usage hint.
func commandPath(root *cobra.Command, args []string) string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == root {
		return ""
	}
	return cmd.CommandPath()[len(root.Name())+1:]
}

// newRootCmd builds the command tree. Every subcommand is added here, one constructor per file.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "sqldr",
		Short: "Disaster-recovery controller for SQL Server mirroring + log shipping",
		Long: `sqldr watches a SQL Server database protected by mirroring inside a primary site (A) and
log shipping to a secondary in a backup site (B). It tracks shipping lag and the data a promotion
would lose, confirms a loss of site A, and promotes the log-shipping secondary, either unattended or
after an operator approves a specific plan.

Exit codes: 0 success, 1 failure, 2 usage error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Reject unknown subcommands and stray arguments as usage errors.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true

	for _, sub := range []*cobra.Command{
		newVersionCmd(),
		newObserveCmd(),
		newLabCmd(),
		newCheckCmd(),
		newServiceCmd(),
		newRunCmd(),
		newDemoCmd(),
	} {
		root.AddCommand(sub)
	}
	root.AddCommand(newOperatorCmds()...)
	wrapArgs(root)
	return root
}

// wrapArgs makes argument-validation failures of every command usage errors.
func wrapArgs(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				var ue usageError
				if errors.As(err, &ue) {
					return err
				}
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		wrapArgs(sub)
	}
}
