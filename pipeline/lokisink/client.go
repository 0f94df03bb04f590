package lokisink

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/grafana/loki-client-go/loki"
	"github.com/grafana/loki-client-go/pkg/backoff"
	"github.com/grafana/loki-client-go/pkg/urlutil"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
)

// maxCachedLabelSets bounds the label sets kept for reuse; past it the cache starts over.
const maxCachedLabelSets = 4096

// lokiClient is the pusher on github.com/grafana/loki-client-go: snappy-compressed
// protobuf pushes, one batch in flight, retries with backoff.
type lokiClient struct {
	c    *loki.Client
	host string // the client library's metric label
	ext  model.LabelSet
	sets map[labelKey]model.LabelSet // used by the forwarding goroutine only
	base clientStats
}

func newLokiClient(cfg Config, u *url.URL, ext map[string]string) (*lokiClient, error) {
	lc := loki.Config{
		URL:       urlutil.URLValue{URL: u},
		BatchWait: cfg.BatchWait,
		BatchSize: cfg.BatchSize,
		Timeout:   cfg.Timeout,
		BackoffConfig: backoff.BackoffConfig{
			MinBackoff: cfg.MinBackoff,
			MaxBackoff: cfg.MaxBackoff,
			MaxRetries: cfg.MaxRetries, // the library retries forever on 0
		},
		TenantID: cfg.TenantID,
		// External labels are merged here, once per label set, rather than by the
		// library, which would merge them into a new map for every line.
	}
	if a := cfg.BasicAuth; a.Username != "" {
		lc.Client.BasicAuth = &config.BasicAuth{
			Username:     a.Username,
			Password:     config.Secret(a.Password),
			PasswordFile: a.PasswordFile,
		}
	}

	c := &lokiClient{host: u.Host, ext: model.LabelSet{}, sets: map[labelKey]model.LabelSet{}}
	for k, v := range ext {
		c.ext[model.LabelName(k)] = model.LabelValue(v)
	}
	c.base = gatherClientStats(c.host)
	var err error
	if c.c, err = loki.NewWithLogger(lc, kitLogger{cfg.Logger}); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *lokiClient) push(k labelKey, t time.Time, line string) {
	ls, ok := c.sets[k]
	if !ok {
		if len(c.sets) >= maxCachedLabelSets {
			clear(c.sets)
		}
		ls = make(model.LabelSet, len(c.ext)+4)
		for n, v := range c.ext {
			ls[n] = v
		}
		// The key's strings share memory with the buffered line: copy them, so that the
		// cache does not keep lines alive.
		k = labelKey{strings.Clone(k.mta), strings.Clone(k.host), strings.Clone(k.outcome), strings.Clone(k.category)}
		for _, l := range [...]struct{ name, value string }{
			{LabelMTA, k.mta}, {LabelMTAHost, k.host}, {LabelOutcome, k.outcome}, {LabelCategory, k.category},
		} {
			if l.value != "" {
				ls[model.LabelName(l.name)] = model.LabelValue(l.value)
			}
		}
		c.sets[k] = ls
	}
	_ = c.c.Handle(ls, t, line) // always nil; blocks while a batch is being sent
}

func (c *lokiClient) stop() { c.c.Stop() }

func (c *lokiClient) stats() clientStats {
	now := gatherClientStats(c.host)
	return clientStats{
		sent:    now.sent - c.base.sent,
		failed:  now.failed - c.base.failed,
		retries: now.retries - c.base.retries,
	}
}

// gatherClientStats reads the counters the client library registers on the Prometheus
// default registry (promtail_*_total, labelled by the Loki host:port). They are the only
// report it gives of what it sent and what it gave up.
func gatherClientStats(host string) clientStats {
	mfs, _ := prometheus.DefaultGatherer.Gather() // partial results are fine
	var s clientStats
	for _, mf := range mfs {
		var dst *uint64
		switch mf.GetName() {
		case "promtail_sent_entries_total":
			dst = &s.sent
		case "promtail_dropped_entries_total":
			dst = &s.failed
		case "promtail_batch_retries_total":
			dst = &s.retries
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "host" && lp.GetValue() == host {
					*dst = uint64(m.GetCounter().GetValue())
				}
			}
		}
	}
	return s
}

// kitLogger turns the client library's go-kit log calls into slog records.
type kitLogger struct{ l *slog.Logger }

// Log implements the go-kit log.Logger interface.
func (k kitLogger) Log(keyvals ...any) error {
	level := slog.LevelInfo
	msg := ""
	attrs := make([]any, 0, len(keyvals))
	for i := 0; i+1 < len(keyvals); i += 2 {
		key := fmt.Sprint(keyvals[i])
		switch key {
		case "level":
			switch fmt.Sprint(keyvals[i+1]) {
			case "debug":
				level = slog.LevelDebug
			case "warn":
				level = slog.LevelWarn
			case "error":
				level = slog.LevelError
			}
		case "msg":
			msg = fmt.Sprint(keyvals[i+1])
		case "component":
		default:
			v := keyvals[i+1]
			if err, ok := v.(error); ok {
				v = err.Error()
			}
			attrs = append(attrs, key, v)
		}
	}
	k.l.Log(context.Background(), level, "loki client: "+msg, attrs...)
	return nil
}
