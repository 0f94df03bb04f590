package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the pipeline's Prometheus metrics, registered on their own registry.
type Metrics struct {
	Registry *prometheus.Registry

	records      *prometheus.CounterVec // topic
	events       *prometheus.CounterVec // topic, outcome, category
	parseErrors  *prometheus.CounterVec // topic
	dropped      *prometheus.CounterVec // topic: events of records stored before (watermark)
	batchSize    prometheus.Histogram   // events per insert
	insertTime   prometheus.Histogram   // seconds per insert
	insertErrors prometheus.Counter     // failed insert attempts (retried)
	lag          *prometheus.GaugeVec   // topic, partition
	stateEntries *prometheus.GaugeVec   // topic, partition
	partitions   prometheus.Gauge       // assigned partitions
	commits      *prometheus.CounterVec // topic
	lastStored   *prometheus.GaugeVec   // topic: unix time of the last stored batch
}

// NewMetrics creates the metrics on a fresh registry (with the Go and process collectors).
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r}
	m.records = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncehouse_records_total",
		Help: "Kafka records read, by topic."}, []string{"topic"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncehouse_events_total",
		Help: "Delivery events stored, by topic, outcome and category."}, []string{"topic", "outcome", "category"})
	m.parseErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncehouse_parse_errors_total",
		Help: "Records that could not be parsed (stored in unparsed_records), by topic."}, []string{"topic"})
	m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncehouse_replayed_events_dropped_total",
		Help: "Events of re-read records whose events were stored before (exactly-once), by topic."}, []string{"topic"})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bouncehouse_batch_events",
		Help: "Events per ClickHouse insert.", Buckets: prometheus.ExponentialBuckets(10, 4, 8)})
	m.insertTime = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bouncehouse_insert_seconds",
		Help: "Time to store one batch.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)})
	m.insertErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "bouncehouse_insert_errors_total",
		Help: "Failed insert attempts; the batch is retried with backoff."})
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bouncehouse_consumer_lag",
		Help: "Records behind the partition's high watermark."}, []string{"topic", "partition"})
	m.stateEntries = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bouncehouse_correlation_state_entries",
		Help: "Open queue entries in a partition's correlation state."}, []string{"topic", "partition"})
	m.partitions = prometheus.NewGauge(prometheus.GaugeOpts{Name: "bouncehouse_assigned_partitions",
		Help: "Partitions this instance consumes."})
	m.commits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncehouse_offset_commits_total",
		Help: "Offset commits after stored batches, by topic."}, []string{"topic"})
	m.lastStored = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bouncehouse_last_stored_timestamp_seconds",
		Help: "Unix time of the last stored batch, by topic."}, []string{"topic"})
	r.MustRegister(m.records, m.events, m.parseErrors, m.dropped, m.batchSize, m.insertTime, m.insertErrors,
		m.lag, m.stateEntries, m.partitions, m.commits, m.lastStored,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
