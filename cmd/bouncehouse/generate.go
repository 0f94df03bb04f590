package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bouncehouse/bouncehouse/scenario"
)

func newGenerateCommand() *cobra.Command {
	var out string
	var events int
	var seed uint64
	var duration time.Duration
	var start string
	cmd := &cobra.Command{
		Use:   "generate --out DIR",
		Short: "Write a realistic synthetic scenario as MTA logs and bounce emails, with its ground truth",
		Long: `generate writes a traffic scenario: one log file per MTA host (Postfix, Exim, PowerMTA
accounting CSV, KumoMTA JSON), bounce emails under bounces/, and truth.json with what was
injected (listed IPs, misconfigured customers, their windows, events per outcome and
category). "bouncehouse send" replays it into Kafka; "bouncehouse classify" reads it directly.`,
		Example: `  bouncehouse generate --out scenario --events 100000
  bouncehouse send --brokers localhost:9092 --topic mta-logs scenario/*.log scenario/*.csv scenario/*.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out is required")
			}
			cfg := scenario.Config{Events: events, Seed: seed, Duration: duration}
			if start != "" {
				t, err := time.Parse(time.RFC3339, start)
				if err != nil {
					return usagef("--start %q: want RFC 3339, e.g. 2026-11-16T08:00:00Z", start)
				}
				cfg.Start = t
			} else {
				cfg.Start = time.Now().UTC().Truncate(time.Second).Add(-cfg.Duration)
				if cfg.Duration == 0 {
					cfg.Start = time.Now().UTC().Truncate(time.Second).Add(-scenario.DefaultDuration)
				}
			}
			sc, err := scenario.Generate(cfg)
			if err != nil {
				return usageError{err}
			}
			if err := sc.WriteFiles(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d log lines and %d bounce emails (%d events) to %s; truth in %s/truth.json\n",
				sc.Truth.LogLines, sc.Truth.BounceEmails, sc.Truth.ProducedEvents, out, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write to")
	f.IntVar(&events, "events", scenario.DefaultEvents, "delivery events the scenario describes")
	f.Uint64Var(&seed, "seed", 7, "scenario seed")
	f.DurationVar(&duration, "duration", scenario.DefaultDuration, "length of the scenario's window")
	f.StringVar(&start, "start", "", "start of the window, RFC 3339 (default: the window ends now)")
	return cmd
}
