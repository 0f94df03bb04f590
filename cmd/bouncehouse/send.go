package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/bouncehouse/bouncehouse/ingest"
	"github.com/bouncehouse/bouncehouse/pipeline"
)

// sendBatch is how many records send hands the producer at once.
const sendBatch = 2000

func newSendCommand() *cobra.Command {
	var brokers, topic string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "send --brokers HOST:PORT --topic TOPIC FILE...",
		Short: "Replay log files and bounce emails into Kafka",
		Long: `send replays files into a Kafka topic the way MTAs' shippers do: a log file line by line,
each record keyed by the line's host (so that one partition sees every line of a queue id);
a .eml file, or each message of an mbox, as one record keyed by the file name. A progress bar
shows on stderr when it is a terminal.`,
		Example: `  bouncehouse send --brokers localhost:9092 --topic mta-logs /var/log/mail.log
  bouncehouse send --brokers localhost:9092 --topic bounces bounces/*.eml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if brokers == "" || topic == "" {
				return usagef("--brokers and --topic are required")
			}
			k := pipeline.Kafka{Brokers: splitList(brokers)}
			prod, err := pipeline.NewProducer(k, topic)
			if err != nil {
				return err
			}
			defer prod.Close()
			var total int64
			for _, a := range args {
				if fi, err := os.Stat(a); err == nil {
					total += fi.Size()
				}
			}
			bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(cmd.ErrOrStderr()),
				progressbar.OptionShowBytes(true), progressbar.OptionSetDescription("sending"),
				progressbar.OptionSetVisibility(!quiet && isTerminal(os.Stderr)), progressbar.OptionClearOnFinish())
			sent := 0
			for _, a := range args {
				n, err := sendFile(cmd.Context(), prod, a, bar)
				sent += n
				if err != nil {
					return fmt.Errorf("send %s: %w", a, err)
				}
			}
			_ = bar.Finish()
			fmt.Fprintf(cmd.OutOrStdout(), "sent %d records to %s\n", sent, topic)
			return nil
		},
	}
	cmd.Flags().StringVar(&brokers, "brokers", os.Getenv("BOUNCEHOUSE_KAFKA_BROKERS"), "Kafka brokers, comma-separated (default $BOUNCEHOUSE_KAFKA_BROKERS)")
	cmd.Flags().StringVar(&topic, "topic", "", "topic to write to")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	return cmd
}

// sendFile sends one file's records and returns how many it sent.
func sendFile(ctx context.Context, prod *pipeline.Producer, path string, bar *progressbar.ProgressBar) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br, head := peekHead(f)
	key := []byte(filepath.Base(path))
	switch sniffKind(path, head) {
	case inputEmail:
		raw, err := io.ReadAll(io.LimitReader(br, maxEmailBytes))
		if err != nil {
			return 0, err
		}
		_ = bar.Add(len(raw))
		return 1, prod.Send(ctx, pipeline.Message{Key: key, Value: raw})
	case inputMbox:
		n := 0
		err := ingest.SplitMbox(br, func(msg []byte, _ int) error {
			_ = bar.Add(len(msg))
			n++
			return prod.Send(ctx, pipeline.Message{Key: key, Value: append([]byte(nil), msg...)})
		})
		return n, err
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	var batch []pipeline.Message
	n := 0
	for sc.Scan() {
		line := sc.Text()
		_ = bar.Add(len(line) + 1)
		if strings.TrimSpace(line) == "" {
			continue
		}
		k := key
		if rec, err := ingest.Frame(line, &ingest.FrameOptions{}); err == nil && rec.Host != "" {
			k = []byte(rec.Host)
		}
		batch = append(batch, pipeline.Message{Key: k, Value: []byte(line)})
		if len(batch) == sendBatch {
			if err := prod.Send(ctx, batch...); err != nil {
				return n, err
			}
			n += len(batch)
			batch = batch[:0]
		}
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	if len(batch) > 0 {
		if err := prod.Send(ctx, batch...); err != nil {
			return n, err
		}
		n += len(batch)
	}
	return n, nil
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
