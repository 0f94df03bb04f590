package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bouncehouse/bouncehouse/classify"
	"github.com/bouncehouse/bouncehouse/ingest"
)

type classifyOptions struct {
	input  string
	format string
	all    bool
}

// maxLineBytes bounds one input line; longer lines are cut and counted, never fatal.
const maxLineBytes = 4 << 20

func newClassifyCommand(g *globalOptions) *cobra.Command {
	o := &classifyOptions{}
	cmd := &cobra.Command{
		Use:   "classify [FILE|-]...",
		Short: "Classify MTA logs or bare responses into delivery events, one JSON object per line",
		Long: `classify reads MTA logs (Postfix, Exim, Sendmail, OpenSMTPD, Haraka, PowerMTA accounting
CSV, KumoMTA JSON, Exchange message tracking, and SES/SendGrid/Mailgun/SparkPost/Postmark
events; syslog, RFC 5424, RFC 3339 or JSON-envelope framing) and bounce emails (one raw
message per .eml file, or an mbox), and writes one event per recipient per attempt as JSON
Lines, with the columns of the delivery_events table plus "file" and "line": the 1-based line
of the record that produced the event, 0 for a whole email, or the line of the "From "
separator of a message in an mbox. --input auto detects emails and mboxes per file and the log
format of every record; a format name, email or mbox forces it. Without --all only failures
are written (deferred, bounced, expired, rejected).

With --input response every line is one bare receiver response (as "explain" takes it) and
every non-empty line gives one classification, in input order.

Without FILE arguments, or with "-", it reads standard input. It never stops on bad input: a
summary of what it could not parse goes to stderr, unreadable files are reported there too,
and the exit code is then 1.`,
		Example: `  bouncehouse classify /var/log/mail.log
  bouncehouse classify --all --format text /var/log/exim4/mainlog
  bouncehouse classify bounces/*.eml
  bouncehouse classify --input mbox < /var/mail/bounces
  bouncehouse classify --input response responses.txt | jq -r .category | sort | uniq -c`,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, kind := ingest.FormatAuto, ""
			switch o.input {
			case inputResponse:
			case inputEmail, inputMbox:
				kind = o.input
			default:
				f, err := ingest.ParseFormat(o.input)
				if err != nil {
					return usagef("--input: %v, or email, mbox or response", err)
				}
				format = f
			}
			if o.format != "json" && o.format != "text" {
				return usagef("--format %q: want json or text", o.format)
			}
			c, err := loadClassifier(g)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				args = []string{"-"}
			}
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			w := newResultWriter(out, o.format)
			var failed []string
			sum := &summary{}
			for _, name := range args {
				var err error
				if o.input == "response" {
					err = classifyFile(c, cmd.InOrStdin(), name, w)
				} else {
					err = processFile(c, cmd.InOrStdin(), name, kind, format, o.all, w, sum)
				}
				if err != nil {
					slog.Error("cannot classify input", "file", name, "err", err)
					failed = append(failed, name)
				}
			}
			if err := out.Flush(); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
			if o.input != "response" {
				sum.report(cmd.ErrOrStderr())
			}
			if len(failed) > 0 {
				return fmt.Errorf("could not read %d of %d inputs: %s", len(failed), len(args), strings.Join(failed, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.input, "input", "auto", "input format: "+formatNames()+", email (one raw bounce message), mbox, or response (one bare receiver response per line)")
	f.StringVar(&o.format, "format", "json", "output format: json (JSON Lines) or text")
	f.BoolVar(&o.all, "all", false, "write every event, delivered ones included, not only failures")
	return cmd
}

// formatNames lists the log formats --input accepts.
func formatNames() string {
	names := make([]string, 0, 16)
	for _, f := range ingest.Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

func classifyFile(c *classify.Classifier, stdin io.Reader, name string, w *resultWriter) error {
	r, file, closeFn, err := openInput(stdin, name)
	if err != nil {
		return err
	}
	defer closeFn()
	br := bufio.NewReaderSize(r, 64<<10)
	long := 0
	for n := 1; ; n++ {
		line, err := readLine(br)
		if errors.Is(err, errLineTooLong) {
			long++
			err = nil
		}
		if len(line) > 0 || err == nil {
			if text := strings.TrimSpace(line); text != "" {
				if werr := w.write(file, n, c.ClassifyText(text)); werr != nil {
					return fmt.Errorf("write output: %w", werr)
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", n, err)
		}
	}
	if long > 0 {
		slog.Warn("lines longer than the limit were cut", "file", name, "lines", long, "limit_bytes", maxLineBytes)
	}
	return nil
}

var errLineTooLong = errors.New("line too long")

// openInput opens a named input, or returns stdin for "-"; file is "" for stdin.
func openInput(stdin io.Reader, name string) (r io.Reader, file string, closeFn func(), err error) {
	if name == "-" {
		return stdin, "", func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, "", nil, err
	}
	return f, name, func() { f.Close() }, nil
}

// readLine returns the next line without its newline; a line over maxLineBytes is cut there
// (the rest is skipped) and reported as errLineTooLong.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(b)+len(chunk) <= maxLineBytes {
			b = append(b, chunk...)
		} else if len(b) < maxLineBytes {
			b = append(b, chunk[:maxLineBytes-len(b)]...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			if len(b) > maxLineBytes-1 {
				return string(b), errLineTooLong
			}
			return strings.TrimRight(string(b), "\r\n"), err
		}
		if len(b) >= maxLineBytes {
			return string(b), errLineTooLong
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
}

// resultOut is the JSON shape of one classification: the column names of the
// delivery_events table.
type resultOut struct {
	File               string   `json:"file,omitempty"`
	Line               int      `json:"line,omitempty"`
	Category           string   `json:"category"`
	BounceClass        string   `json:"bounce_class"`
	ActionParty        string   `json:"action_party"`
	Provider           string   `json:"provider"`
	ProviderCode       string   `json:"provider_code"`
	BlocklistProviders []string `json:"blocklist_providers"`
	ListedIP           string   `json:"listed_ip"`
	ThrottleScope      string   `json:"throttle_scope"`
	Rule               string   `json:"rule"`
	SMTPCode           int      `json:"smtp_code"`
	EnhancedStatus     string   `json:"enhanced_status"`
	SMTPPhase          string   `json:"smtp_phase"`
	RemoteHost         string   `json:"remote_host"`
	Response           string   `json:"response"`
}

func toResultOut(r classify.Result) resultOut {
	bl := r.BlocklistProviders
	if bl == nil {
		bl = []string{}
	}
	return resultOut{Category: string(r.Category), BounceClass: string(r.BounceClass),
		ActionParty: string(r.ActionParty), Provider: r.Provider, ProviderCode: r.ProviderCode,
		BlocklistProviders: bl, ListedIP: r.ListedIP, ThrottleScope: r.ThrottleScope,
		Rule: r.Rule, SMTPCode: r.SMTPCode, EnhancedStatus: r.EnhancedStatus,
		SMTPPhase: r.SMTPPhase, RemoteHost: r.RemoteHost, Response: r.Response}
}

type resultWriter struct {
	w      io.Writer
	format string
	enc    *json.Encoder
}

func newResultWriter(w io.Writer, format string) *resultWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &resultWriter{w: w, format: format, enc: enc}
}

func (rw *resultWriter) write(file string, line int, r classify.Result) error {
	if rw.format == "json" {
		out := toResultOut(r)
		out.File, out.Line = file, line
		return rw.enc.Encode(out)
	}
	where := fmt.Sprintf("%d", line)
	if file != "" {
		where = file + ":" + where
	}
	extra := ""
	if r.Provider != "" {
		extra += " provider=" + r.Provider
	}
	if r.ProviderCode != "" {
		extra += " code=" + r.ProviderCode
	}
	if len(r.BlocklistProviders) > 0 {
		extra += " blocklists=" + strings.Join(r.BlocklistProviders, ",")
	}
	if r.ListedIP != "" {
		extra += " listed_ip=" + r.ListedIP
	}
	_, err := fmt.Fprintf(rw.w, "%s\t%s\t%s\t%s\trule=%s%s\n", where, r.Category, r.BounceClass,
		r.ActionParty, r.Rule, extra)
	return err
}
