// Command bouncehouse classifies email delivery failures: MTA log lines and bounce messages
// in, one classified event per recipient attempt out.
//
// Subcommands are one file each; main only builds the command tree and maps errors to exit
// codes that scripts can trust:
//
//	0  success
//	1  the command ran and failed (unreadable input, store unreachable, …)
//	2  usage error (unknown flag, bad arguments)
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks errors that come from how the command was called.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// globalOptions are the flags every subcommand shares.
type globalOptions struct {
	rulesFiles []string
	logLevel   string
}

func newRootCommand() *cobra.Command {
	opts := &globalOptions{}
	root := &cobra.Command{
		Use:   "bouncehouse",
		Short: "Classify email delivery failures from MTA logs and bounce messages",
		Long: `bouncehouse reads what receiving mail servers answered (MTA delivery logs and bounce
messages), classifies every failed or deferred recipient into the delivery-failure taxonomy
(relay denied, SPF/DKIM/DMARC, blocklisted IP, rate limit, mail loop, …) in any language the
receiver answers in, and says who must act and what to do.`,
		Example: `  bouncehouse explain "550 5.7.1 Relay access denied"
  bouncehouse classify /var/log/mail.log
  bouncehouse classify --input response examples/responses.txt
  bouncehouse migrate && bouncehouse query "SELECT * FROM bouncehouse.blocked_ips_now"`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return setupLogging(opts.logLevel)
		},
	}
	root.PersistentFlags().StringArrayVar(&opts.rulesFiles, "rules", nil,
		"extra classification rule file (YAML, see classify/rules/README.md); tried before the built-in rules; repeatable")
	root.PersistentFlags().StringVar(&opts.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newExplainCommand(opts), newClassifyCommand(opts), newMigrateCommand(), newQueryCommand(),
		newRunCommand(opts), newSendCommand(), newDemoCommand(opts), newGenerateCommand(), newGrafanaCommand(), newAlertsCommand(), newReportCommand())
	return root
}

func setupLogging(level string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", level)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})))
	return nil
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var ee codeError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "bouncehouse:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "bouncehouse:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		fmt.Fprintf(os.Stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	return exitError
}
