-- delivery_events: one row per recipient per attempt (the contract of the dashboards, the
-- reports and external checks). Low-cardinality strings are dictionary-encoded; times and
-- offsets are delta-coded. Daily partitions let the retention TTL drop whole parts.
CREATE TABLE IF NOT EXISTS {{table "delivery_events"}}{{onCluster}}
(
    event_time          DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    ingest_time         DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    mta                 LowCardinality(String),
    mta_host            LowCardinality(String),
    mta_instance        LowCardinality(String),
    queue_id            String CODEC(ZSTD(1)),
    message_id          String CODEC(ZSTD(1)),
    direction           LowCardinality(String),
    outcome             LowCardinality(String),
    sender              String CODEC(ZSTD(1)),
    sender_domain       LowCardinality(String),
    customer            LowCardinality(String),
    recipient           String CODEC(ZSTD(1)),
    recipient_domain    LowCardinality(String),
    sending_ip          LowCardinality(String),
    pool                LowCardinality(String),
    remote_host         LowCardinality(String),
    remote_ip           LowCardinality(String),
    smtp_code           UInt16,
    enhanced_status     LowCardinality(String),
    smtp_phase          LowCardinality(String),
    response            String CODEC(ZSTD(1)),
    category            LowCardinality(String),
    bounce_class        LowCardinality(String),
    action_party        LowCardinality(String),
    provider            LowCardinality(String),
    provider_code       LowCardinality(String),
    blocklist_providers Array(LowCardinality(String)),
    listed_ip           LowCardinality(String),
    throttle_scope      LowCardinality(String),
    rule                LowCardinality(String),
    notification        Bool,
    job_id              LowCardinality(String),
    vendor_class        LowCardinality(String),
    source_line         UInt32,
    kafka_topic         LowCardinality(String),
    kafka_partition     Int32,
    kafka_offset        Int64 CODEC(Delta, ZSTD(1)),
    record_index        UInt32,
    INDEX idx_queue_id queue_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_message_id message_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_recipient_domain recipient_domain TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_sending_ip sending_ip TYPE set(1024) GRANULARITY 4,
    INDEX idx_category category TYPE set(64) GRANULARITY 4
)
ENGINE = {{engine "MergeTree" "delivery_events"}}
PARTITION BY toYYYYMMDD(event_time)
ORDER BY (customer, outcome, event_time)
TTL toDateTime(event_time) + INTERVAL {{.RetentionDays}} DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;
{{distributed "delivery_events" "cityHash64(customer)"}}

-- unparsed_records: input that could not be parsed, with where it came from, so that it
-- can be found, fixed and replayed. It never stops a partition.
CREATE TABLE IF NOT EXISTS {{table "unparsed_records"}}{{onCluster}}
(
    ingest_time     DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    source          LowCardinality(String),
    kafka_topic     LowCardinality(String),
    kafka_partition Int32,
    kafka_offset    Int64,
    source_line     UInt32,
    error           String CODEC(ZSTD(1)),
    raw             String CODEC(ZSTD(3))
)
ENGINE = {{engine "MergeTree" "unparsed_records"}}
PARTITION BY toYYYYMMDD(ingest_time)
ORDER BY (kafka_topic, kafka_partition, kafka_offset)
TTL toDateTime(ingest_time) + INTERVAL {{.RetentionDays}} DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;
{{distributed "unparsed_records" "rand()"}}

-- ingest_offsets: the highest Kafka offset stored per topic and partition, fed by both
-- tables above. A consumer that takes over a partition drops the events of records at or
-- below it: they are stored already (exactly-once across crashes and rebalances).
CREATE TABLE IF NOT EXISTS {{table "ingest_offsets"}}{{onCluster}}
(
    kafka_topic     LowCardinality(String),
    kafka_partition Int32,
    max_offset      SimpleAggregateFunction(max, Int64)
)
ENGINE = {{engine "AggregatingMergeTree" "ingest_offsets"}}
ORDER BY (kafka_topic, kafka_partition)
SETTINGS non_replicated_deduplication_window = 10000;
{{distributed "ingest_offsets" "rand()"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table "mv_ingest_offsets_events"}}{{onCluster}}
TO {{table "ingest_offsets"}} AS
SELECT kafka_topic, kafka_partition, max(kafka_offset) AS max_offset
FROM {{table "delivery_events"}}
WHERE kafka_topic != ''
GROUP BY kafka_topic, kafka_partition;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table "mv_ingest_offsets_unparsed"}}{{onCluster}}
TO {{table "ingest_offsets"}} AS
SELECT kafka_topic, kafka_partition, max(kafka_offset) AS max_offset
FROM {{table "unparsed_records"}}
WHERE kafka_topic != ''
GROUP BY kafka_topic, kafka_partition;

-- consumer_state: the saved correlation state of one partition's parser, as of an offset,
-- so that a consumer taking the partition over goes on where the last one stopped.
CREATE TABLE IF NOT EXISTS {{table "consumer_state"}}{{onCluster}}
(
    kafka_topic     LowCardinality(String),
    kafka_partition Int32,
    kafka_offset    Int64,
    saved_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    state           String CODEC(ZSTD(3))
)
ENGINE = {{engine "ReplacingMergeTree(kafka_offset)" "consumer_state"}}
ORDER BY (kafka_topic, kafka_partition);
{{distributed "consumer_state" "kafka_partition"}}
