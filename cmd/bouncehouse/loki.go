package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bouncehouse/bouncehouse/pipeline"
	"github.com/bouncehouse/bouncehouse/pipeline/lokisink"
)

// lokiLines adapts the Loki sink to the pipeline's LineSink.
type lokiLines struct{ s *lokisink.Sink }

func (l lokiLines) Push(r pipeline.RawLine) { l.s.Push(lokisink.Line(r)) }

// newLokiSink starts the Loki shipper and registers its counters on the pipeline's metrics.
func newLokiSink(cfg lokiFile, m *pipeline.Metrics) (pipeline.LineSink, func(), error) {
	s, err := lokisink.New(lokisink.Config{URL: cfg.URL, TenantID: cfg.TenantID})
	if err != nil {
		return nil, nil, err
	}
	stat := func(name, help string, get func(lokisink.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(get(s.Stats())) })
	}
	m.Registry.MustRegister(
		stat("bouncehouse_loki_lines_pushed_total", "Raw lines handed to the Loki shipper.", func(st lokisink.Stats) uint64 { return st.Pushed }),
		stat("bouncehouse_loki_lines_dropped_total", "Raw lines dropped because the Loki buffer was full or Loki was down too long.", func(st lokisink.Stats) uint64 { return st.Dropped }),
		stat("bouncehouse_loki_lines_sent_total", "Raw lines Loki accepted.", func(st lokisink.Stats) uint64 { return st.Sent }),
	)
	return lokiLines{s}, s.Stop, nil
}
