package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/bouncehouse/bouncehouse/classify"
	"github.com/bouncehouse/bouncehouse/ingest"
)

// Input kinds classify accepts besides the log formats.
const (
	inputResponse = "response" // one bare receiver response per line
	inputEmail    = "email"    // one raw RFC 5322 message (a .eml file)
	inputMbox     = "mbox"     // messages in mbox format
)

// maxEmailBytes bounds one .eml input; the rest of a larger file is not read.
const maxEmailBytes = 64 << 20

// sniffKind tells, from a file's name and first bytes, whether it holds an email, an mbox
// or log lines ("" for logs). A ".eml" name means one email and ".mbox" an mbox; otherwise an
// mbox starts with a "From " separator and an email with a header field, which no supported
// log format does (their lines start with a timestamp, a priority, '{', '#' or a CSV field).
func sniffKind(name string, head []byte) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".eml", ".msg":
		return inputEmail
	case ".mbox", ".mbx":
		return inputMbox
	}
	if bytes.HasPrefix(bytes.TrimLeft(head, "\r\n"), []byte("From ")) {
		return inputMbox
	}
	if ingest.StartsWithHeaderField(head) {
		return inputEmail
	}
	return ""
}

// processMessages classifies one email (kind inputEmail, events at line 0) or every message
// of an mbox (events at the line of the message's "From " separator) and writes the events.
// A message that is not a bounce is counted in the summary, not fatal.
func processMessages(c *classify.Classifier, r io.Reader, name, kind string, all bool, w *resultWriter, sum *summary) error {
	proc := ingest.NewProcessor(c, ingest.Options{})
	var evs []ingest.Event
	one := func(msg []byte, line int) error {
		sum.emails++
		var err error
		evs, err = proc.Message(msg, evs[:0])
		where := name
		if kind == inputMbox {
			where = fmt.Sprintf("%s:%d", name, line)
		}
		if err != nil {
			reason := "email: " + err.Error()
			if errors.Is(err, ingest.ErrNoBounce) {
				reason = "email that is not a bounce, complaint or auto-reply"
			}
			sum.add(reason, where)
		}
		for i := range evs {
			ev := &evs[i]
			ev.Line = line
			if !all && !ev.Outcome.IsFailure() {
				continue
			}
			sum.events++
			if ev.Outcome.IsFailure() {
				sum.failures++
			}
			if werr := w.writeEvent(name, ev); werr != nil {
				return fmt.Errorf("write output: %w", werr)
			}
		}
		return nil
	}
	if kind == inputMbox {
		return ingest.SplitMbox(r, one)
	}
	raw, err := io.ReadAll(io.LimitReader(r, maxEmailBytes))
	if err != nil {
		return fmt.Errorf("read email: %w", err)
	}
	return one(raw, 0)
}

// peekHead returns a reader for the whole input and its first bytes, for sniffKind.
func peekHead(r io.Reader) (*bufio.Reader, []byte) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	return br, head
}
