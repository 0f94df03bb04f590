package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/bouncehouse/bouncehouse/classify"
	"github.com/bouncehouse/bouncehouse/ingest"
)

// summary counts what classify read and what it could not parse, per file.
type summary struct {
	lines, emails, events int
	failures              int
	unparsed              map[string]int // reason → lines
	examples              map[string]string
}

func (s *summary) add(reason, where string) {
	if s.unparsed == nil {
		s.unparsed, s.examples = map[string]int{}, map[string]string{}
	}
	s.unparsed[reason]++
	if _, ok := s.examples[reason]; !ok {
		s.examples[reason] = where
	}
}

func (s *summary) report(w io.Writer) {
	total := 0
	for _, n := range s.unparsed {
		total += n
	}
	read := fmt.Sprintf("%d lines", s.lines)
	if s.emails > 0 {
		read = fmt.Sprintf("%d lines and %d emails", s.lines, s.emails)
	}
	fmt.Fprintf(w, "bouncehouse: %s read, %d events written (%d failures), %d records not parsed\n",
		read, s.events, s.failures, total)
	reasons := make([]string, 0, len(s.unparsed))
	for r := range s.unparsed {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool { return s.unparsed[reasons[i]] > s.unparsed[reasons[j]] })
	for i, r := range reasons {
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more reasons\n", len(reasons)-10)
			break
		}
		fmt.Fprintf(w, "  %6d  %s (first at %s)\n", s.unparsed[r], r, s.examples[r])
	}
}

// eventOut is the JSON shape of one event: the table's columns plus where it came from.
type eventOut struct {
	File string `json:"file,omitempty"`
	ingest.Event
}

// processFile parses one input into events and writes them. kind is inputEmail or
// inputMbox to force those; otherwise, with format auto, the input is sniffed for an email
// or an mbox and read as log lines when it is neither.
func processFile(c *classify.Classifier, stdin io.Reader, name, kind string, format ingest.Format, all bool, w *resultWriter, sum *summary) error {
	r, file, closeFn, err := openInput(stdin, name)
	if err != nil {
		return err
	}
	defer closeFn()
	br, head := peekHead(r)
	if kind == "" && format == ingest.FormatAuto {
		kind = sniffKind(file, head)
	}
	if kind == inputEmail || kind == inputMbox {
		return processMessages(c, br, file, kind, all, w, sum)
	}
	return processLogLines(c, br, file, format, all, w, sum)
}

// processLogLines parses log lines into events and writes them.
func processLogLines(c *classify.Classifier, br *bufio.Reader, name string, format ingest.Format, all bool, w *resultWriter, sum *summary) error {
	file := name
	if name == "" {
		name = "-"
	}
	proc := ingest.NewProcessor(c, ingest.Options{})
	var evs []ingest.Event
	write := func(evs []ingest.Event) error {
		for i := range evs {
			ev := &evs[i]
			if !all && !ev.Outcome.IsFailure() {
				continue
			}
			sum.events++
			if ev.Outcome.IsFailure() {
				sum.failures++
			}
			if err := w.writeEvent(file, ev); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
		return nil
	}
	for n := 1; ; n++ {
		line, err := readLine(br)
		if errors.Is(err, errLineTooLong) {
			sum.add("line longer than the limit, cut", fmt.Sprintf("%s:%d", name, n))
			err = nil
		}
		if len(line) > 0 {
			sum.lines++
			var perr error
			evs, perr = proc.Line(line, n, format, evs[:0])
			if perr != nil {
				sum.add(reasonOf(perr), fmt.Sprintf("%s:%d", name, n))
			}
			if werr := write(evs); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", n, err)
		}
	}
	return write(proc.Flush(evs[:0]))
}

// reasonOf shortens a parse error to its kind, without the line number and values.
func reasonOf(err error) string {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
		msg = after
	}
	if i := strings.Index(msg, " (program "); i >= 0 && errors.Is(err, ingest.ErrUnrecognized) {
		return "not a record of a known MTA" + msg[i:]
	}
	return msg
}

func (rw *resultWriter) writeEvent(file string, ev *ingest.Event) error {
	if rw.format == "json" {
		return rw.enc.Encode(eventOut{File: file, Event: *ev})
	}
	where := fmt.Sprintf("%d", ev.Line)
	if file != "" {
		where = file + ":" + where
	}
	detail := ""
	if ev.Category != "" {
		detail = fmt.Sprintf("\t%s\t%s\t%s\trule=%s", ev.Category, ev.BounceClass, ev.ActionParty, ev.Rule)
	}
	_, err := fmt.Fprintf(rw.w, "%s\t%s\t%s %s\t%s -> %s%s\n", where, ev.Outcome, ev.MTA, ev.QueueID,
		orDash(ev.Sender), orDash(ev.Recipient), detail)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
