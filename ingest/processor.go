package ingest

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/bouncehouse/bouncehouse/classify"
)

// Format names an input format.
type Format string

// FormatAuto asks for detection per record; FormatUnknown is what detection returns when no
// format claims a record.
const (
	FormatAuto    Format = "auto"
	FormatUnknown Format = ""
)

// formatSpec registers one input format: how to recognise its records and how to make its
// parser. Each format's file registers itself in an init function, so formats stay
// independent of each other.
type formatSpec struct {
	format Format
	// detect reports whether a framed record belongs to the format; formats are tried in
	// registration order (priority, then name).
	detect   func(rec *Record) bool
	priority int
	newFn    func(st *State) parser
}

var formatSpecs []formatSpec

func register(fs formatSpec) {
	formatSpecs = append(formatSpecs, fs)
	sort.SliceStable(formatSpecs, func(i, j int) bool {
		if formatSpecs[i].priority != formatSpecs[j].priority {
			return formatSpecs[i].priority < formatSpecs[j].priority
		}
		return formatSpecs[i].format < formatSpecs[j].format
	})
}

// Formats lists the formats a caller may force, FormatAuto first.
func Formats() []Format {
	out := []Format{FormatAuto}
	for _, fs := range formatSpecs {
		out = append(out, fs.format)
	}
	return out
}

// ParseFormat validates a format name.
func ParseFormat(s string) (Format, error) {
	names := make([]string, 0, len(formatSpecs)+1)
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
		names = append(names, string(f))
	}
	return "", fmt.Errorf("unknown input format %q (want one of %s)", s, strings.Join(names, ", "))
}

// ErrUnrecognized is returned for a record no parser claims.
var ErrUnrecognized = errors.New("unrecognized record")

// parser turns framed records of one format into events. Implementations keep their
// correlation state in the shared State.
type parser interface {
	parse(rec *Record, out *[]Event) error
	flush(out *[]Event) // end of input: release what is held back
}

// Options configure a Processor.
type Options struct {
	Frame  FrameOptions
	State  StateOptions
	Enrich EnrichOptions
}

// Processor turns lines into classified, enriched events. It owns correlation state and is
// not safe for concurrent use: run one per input stream (per Kafka partition).
type Processor struct {
	classifier *classify.Classifier
	opts       Options
	state      *State
	enricher   *enricher
	parsers    map[Format]parser
}

// NewProcessor returns a Processor that classifies with c.
func NewProcessor(c *classify.Classifier, opts Options) *Processor {
	st := NewState(opts.State)
	p := &Processor{classifier: c, opts: opts, state: st, enricher: newEnricher(opts.Enrich),
		parsers: map[Format]parser{}}
	for _, fs := range formatSpecs {
		p.parsers[fs.format] = fs.newFn(st)
	}
	return p
}

// State returns the correlation state, to save it or restore it across restarts.
func (p *Processor) State() *State { return p.state }

// Line processes one input line (lineNo is 1-based, for lineage) and appends its events to
// out. format may be FormatAuto. A line that cannot be parsed yields an error and no events;
// processing goes on with the next line.
func (p *Processor) Line(line string, lineNo int, format Format, out []Event) ([]Event, error) {
	return p.HostLine("", line, lineNo, format, out)
}

// HostLine is Line for a line that may come without a host in its framing (a PowerMTA CSV
// row, a KumoMTA JSON record): host, when not empty, names the MTA host that wrote it (the
// Kafka key), for the events and for state kept per host, such as CSV column layouts.
func (p *Processor) HostLine(host, line string, lineNo int, format Format, out []Event) ([]Event, error) {
	rec, err := Frame(line, &p.opts.Frame)
	if err != nil {
		if errors.Is(err, errEmptyLine) {
			return out, nil
		}
		return out, fmt.Errorf("line %d: %w", lineNo, err)
	}
	rec.Line = lineNo
	if rec.Host == "" && host != "" && rec.Program == "" {
		rec.Host = host
	}
	return p.Record(&rec, format, out)
}

// Record processes one framed record.
func (p *Processor) Record(rec *Record, format Format, out []Event) ([]Event, error) {
	if format == FormatAuto || format == FormatUnknown {
		format = Detect(rec)
	}
	pr := p.parsers[format]
	if pr == nil {
		return out, fmt.Errorf("line %d: %w (program %q)", rec.Line, ErrUnrecognized, rec.Program)
	}
	start := len(out)
	err := pr.parse(rec, &out)
	p.finish(out[start:])
	if err != nil {
		return out, fmt.Errorf("line %d: %w", rec.Line, err)
	}
	return out, nil
}

// Flush releases events held back for correlation (end of input, or a shutdown).
func (p *Processor) Flush(out []Event) []Event {
	start := len(out)
	for _, fs := range formatSpecs {
		p.parsers[fs.format].flush(&out)
	}
	p.finish(out[start:])
	return out
}

// finish classifies and enriches new events in place.
func (p *Processor) finish(evs []Event) {
	for i := range evs {
		ev := &evs[i]
		if ev.Outcome.IsFailure() {
			r := p.classifier.Classify(classify.Input{Text: ev.Response, Code: ev.SMTPCode,
				DSN: ev.EnhancedStatus, Phase: ev.SMTPPhase, RemoteHost: ev.RemoteHost})
			ev.SMTPCode, ev.EnhancedStatus, ev.SMTPPhase = r.SMTPCode, r.EnhancedStatus, r.SMTPPhase
			ev.Response = r.Response
			ev.Category, ev.BounceClass, ev.ActionParty = string(r.Category), string(r.BounceClass), string(r.ActionParty)
			ev.Provider, ev.ProviderCode = r.Provider, r.ProviderCode
			ev.BlocklistProviders, ev.ListedIP = r.BlocklistProviders, r.ListedIP
			ev.ThrottleScope, ev.Rule = r.ThrottleScope, r.Rule
			if ev.RemoteHost == "" {
				ev.RemoteHost = r.RemoteHost
			}
			if ev.Outcome == Expired && r.Category != classify.MessageExpired {
				// The queue gave up: whatever the last attempt said (PowerMTA and SES quote
				// it), the event is an expiry, as Postfix, Exim and Sendmail report it.
				ev.Category, ev.Rule = string(classify.MessageExpired), "outcome.expired"
				if ci := p.classifier.Category(classify.MessageExpired); ci != nil {
					ev.BounceClass, ev.ActionParty = string(ci.Class), string(ci.Party)
				}
			}
		}
		if !ev.Outcome.IsFailure() {
			if ev.SMTPCode == 0 {
				ev.SMTPCode = leadingCode(ev.Response)
			}
			if ev.Provider == "" {
				ev.Provider = p.classifier.ProviderOfHost(ev.RemoteHost)
			}
		}
		if ev.BlocklistProviders == nil {
			ev.BlocklistProviders = []string{}
		}
		p.enricher.enrich(ev)
	}
}

// Detect names the format of a framed record from its program name or the shape of its
// message, or returns FormatUnknown.
func Detect(rec *Record) Format {
	for _, fs := range formatSpecs {
		if fs.detect != nil && fs.detect(rec) {
			return fs.format
		}
	}
	return FormatUnknown
}

// leadingCode returns the SMTP reply code a response starts with, or 0.
func leadingCode(s string) int {
	if len(s) >= 3 && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
		(len(s) == 3 || s[3] == ' ' || s[3] == '-') {
		return int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	}
	return 0
}
