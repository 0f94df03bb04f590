// Package storage owns everything ClickHouse: the schema (versioned migrations embedded in the
// binary, with rollups kept by materialized views and the views that answer "which IPs are
// blocked now" and "which customers are misconfigured now"), the writer that stores batches
// of delivery events exactly once, and queries for the CLI, dashboards and reports.
//
// Two engines sit behind one Store: a ClickHouse server reached with clickhouse-go/v2 (native
// protocol, columnar batches, compression, TLS), and the embedded engine (chDB's libchdb.so,
// loaded at run time) that runs the same SQL in-process with a data directory. Callers do not
// know which one runs.
//
// Exactly-once: every row carries the Kafka topic, partition and offset of the record that
// produced it. The table ingest_offsets keeps the highest stored offset per partition
// (Watermarks); a consumer that takes a partition over drops the events of records at or below
// it. A retried batch carries the same deduplication token and is dropped by the engine, in the
// table and in every rollup.
//
// The package knows nothing of Kafka clients or log formats: it stores ingest.Event rows and
// the lineage its caller gives it.
package storage
