package ingest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bouncehouse/bouncehouse/classify"
)

// Format names an input format.
type Format string

// The formats Detect can return and a caller can force.
const (
	FormatAuto    Format = "auto"
	FormatPostfix Format = "postfix"
	FormatExim    Format = "exim"
	FormatUnknown Format = ""
)

// Formats lists the formats a caller may force, for help texts and validation.
var Formats = []Format{FormatAuto, FormatPostfix, FormatExim}

// ParseFormat validates a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
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
	postfix    *postfixParser
	exim       *eximParser
}

// NewProcessor returns a Processor that classifies with c.
func NewProcessor(c *classify.Classifier, opts Options) *Processor {
	st := NewState(opts.State)
	return &Processor{classifier: c, opts: opts, state: st, enricher: newEnricher(opts.Enrich),
		postfix: newPostfixParser(st), exim: newEximParser(st)}
}

// State returns the correlation state, to save it or restore it across restarts.
func (p *Processor) State() *State { return p.state }

// Line processes one input line (lineNo is 1-based, for lineage) and appends its events to
// out. format may be FormatAuto. A line that cannot be parsed yields an error and no events;
// processing goes on with the next line.
func (p *Processor) Line(line string, lineNo int, format Format, out []Event) ([]Event, error) {
	rec, err := Frame(line, &p.opts.Frame)
	if err != nil {
		if errors.Is(err, errEmptyLine) {
			return out, nil
		}
		return out, fmt.Errorf("line %d: %w", lineNo, err)
	}
	rec.Line = lineNo
	return p.Record(&rec, format, out)
}

// Record processes one framed record.
func (p *Processor) Record(rec *Record, format Format, out []Event) ([]Event, error) {
	if format == FormatAuto || format == FormatUnknown {
		format = Detect(rec)
	}
	var pr parser
	switch format {
	case FormatPostfix:
		pr = p.postfix
	case FormatExim:
		pr = p.exim
	default:
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
	p.postfix.flush(&out)
	p.exim.flush(&out)
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

// Detect names the format of a framed record from its program name, or from the shape of
// its message when the framing carried no program.
func Detect(rec *Record) Format {
	prog := rec.Program
	if i := strings.IndexByte(prog, '/'); i >= 0 {
		prog = prog[:i]
	}
	switch {
	case strings.HasPrefix(prog, "postfix"):
		return FormatPostfix
	case strings.HasPrefix(prog, "exim"):
		return FormatExim
	}
	if rec.Program == "" {
		if isEximLine(rec.Message) {
			return FormatExim
		}
		// Postfix message without its header: "QID: to=<…>, relay=…, status=…".
		if isRejectVerb(rec.Message) {
			return FormatPostfix
		}
		if qid, rest, ok := strings.Cut(rec.Message, ": "); ok && isPostfixQueueID(qid) &&
			(strings.HasPrefix(rest, "to=") || strings.HasPrefix(rest, "from=") ||
				isRejectVerb(rest) || strings.HasPrefix(rest, "removed") || strings.HasPrefix(rest, "message-id=")) {
			return FormatPostfix
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
