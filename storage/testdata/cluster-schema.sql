CREATE TABLE IF NOT EXISTS `bouncehouse`.`delivery_events_local` ON CLUSTER `mail`
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/bouncehouse/delivery_events', '{replica}')
PARTITION BY toYYYYMMDD(event_time)
ORDER BY (customer, outcome, event_time)
TTL toDateTime(event_time) + INTERVAL 180 DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`delivery_events` ON CLUSTER `mail` AS `bouncehouse`.`delivery_events_local` ENGINE = Distributed(`mail`, `bouncehouse`, `delivery_events_local`, cityHash64(customer));

CREATE TABLE IF NOT EXISTS `bouncehouse`.`unparsed_records_local` ON CLUSTER `mail`
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/bouncehouse/unparsed_records', '{replica}')
PARTITION BY toYYYYMMDD(ingest_time)
ORDER BY (kafka_topic, kafka_partition, kafka_offset)
TTL toDateTime(ingest_time) + INTERVAL 180 DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`unparsed_records` ON CLUSTER `mail` AS `bouncehouse`.`unparsed_records_local` ENGINE = Distributed(`mail`, `bouncehouse`, `unparsed_records_local`, rand());

CREATE TABLE IF NOT EXISTS `bouncehouse`.`ingest_offsets_local` ON CLUSTER `mail`
(
    kafka_topic     LowCardinality(String),
    kafka_partition Int32,
    max_offset      SimpleAggregateFunction(max, Int64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/bouncehouse/ingest_offsets', '{replica}')
ORDER BY (kafka_topic, kafka_partition)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`ingest_offsets` ON CLUSTER `mail` AS `bouncehouse`.`ingest_offsets_local` ENGINE = Distributed(`mail`, `bouncehouse`, `ingest_offsets_local`, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS `bouncehouse`.`mv_ingest_offsets_events_local` ON CLUSTER `mail`
TO `bouncehouse`.`ingest_offsets_local` AS
SELECT kafka_topic, kafka_partition, max(kafka_offset) AS max_offset
FROM `bouncehouse`.`delivery_events_local`
WHERE kafka_topic != ''
GROUP BY kafka_topic, kafka_partition;

CREATE MATERIALIZED VIEW IF NOT EXISTS `bouncehouse`.`mv_ingest_offsets_unparsed_local` ON CLUSTER `mail`
TO `bouncehouse`.`ingest_offsets_local` AS
SELECT kafka_topic, kafka_partition, max(kafka_offset) AS max_offset
FROM `bouncehouse`.`unparsed_records_local`
WHERE kafka_topic != ''
GROUP BY kafka_topic, kafka_partition;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`consumer_state_local` ON CLUSTER `mail`
(
    kafka_topic     LowCardinality(String),
    kafka_partition Int32,
    kafka_offset    Int64,
    saved_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    state           String CODEC(ZSTD(3))
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/bouncehouse/consumer_state', '{replica}', kafka_offset)
ORDER BY (kafka_topic, kafka_partition);

CREATE TABLE IF NOT EXISTS `bouncehouse`.`consumer_state` ON CLUSTER `mail` AS `bouncehouse`.`consumer_state_local` ENGINE = Distributed(`mail`, `bouncehouse`, `consumer_state_local`, kafka_partition);

CREATE TABLE IF NOT EXISTS `bouncehouse`.`rollup_ip_provider_5m_local` ON CLUSTER `mail`
(
    bucket          DateTime('UTC'),
    sending_ip      LowCardinality(String),
    pool            LowCardinality(String),
    provider        LowCardinality(String),
    category        LowCardinality(String),
    outcome         LowCardinality(String),
    events          SimpleAggregateFunction(sum, UInt64),
    blocklists      SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    listed_ips      SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    customers       SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    first_seen      SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen       SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    last_response   AggregateFunction(argMax, String, DateTime64(3, 'UTC'))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/bouncehouse/rollup_ip_provider_5m', '{replica}')
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, sending_ip, pool, provider, category, outcome)
TTL bucket + INTERVAL 180 DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`rollup_ip_provider_5m` ON CLUSTER `mail` AS `bouncehouse`.`rollup_ip_provider_5m_local` ENGINE = Distributed(`mail`, `bouncehouse`, `rollup_ip_provider_5m_local`, cityHash64(sending_ip));

CREATE MATERIALIZED VIEW IF NOT EXISTS `bouncehouse`.`mv_rollup_ip_provider_5m_local` ON CLUSTER `mail`
TO `bouncehouse`.`rollup_ip_provider_5m_local` AS
SELECT
    toStartOfFiveMinutes(event_time) AS bucket,
    sending_ip, pool, provider, category, outcome,
    count() AS events,
    groupUniqArrayArray(CAST(blocklist_providers, 'Array(String)')) AS blocklists,
    groupUniqArrayIf(toString(listed_ip), listed_ip != '') AS listed_ips,
    groupUniqArrayIf(20)(toString(customer), customer != '' AND outcome != 'delivered') AS customers,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    argMaxState(response, event_time) AS last_response
FROM `bouncehouse`.`delivery_events_local`
WHERE direction = 'outbound'
GROUP BY bucket, sending_ip, pool, provider, category, outcome;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`rollup_ip_blocklist_5m_local` ON CLUSTER `mail`
(
    bucket      DateTime('UTC'),
    sending_ip  LowCardinality(String),
    pool        LowCardinality(String),
    blocklist   LowCardinality(String),
    provider    LowCardinality(String),
    events      SimpleAggregateFunction(sum, UInt64),
    first_seen  SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen   SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/bouncehouse/rollup_ip_blocklist_5m', '{replica}')
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, sending_ip, pool, blocklist, provider)
TTL bucket + INTERVAL 180 DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`rollup_ip_blocklist_5m` ON CLUSTER `mail` AS `bouncehouse`.`rollup_ip_blocklist_5m_local` ENGINE = Distributed(`mail`, `bouncehouse`, `rollup_ip_blocklist_5m_local`, cityHash64(sending_ip));

CREATE MATERIALIZED VIEW IF NOT EXISTS `bouncehouse`.`mv_rollup_ip_blocklist_5m_local` ON CLUSTER `mail`
TO `bouncehouse`.`rollup_ip_blocklist_5m_local` AS
SELECT
    toStartOfFiveMinutes(event_time) AS bucket,
    sending_ip, pool, blocklist, provider,
    count() AS events,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen
FROM `bouncehouse`.`delivery_events_local`
ARRAY JOIN blocklist_providers AS blocklist
WHERE direction = 'outbound'
GROUP BY bucket, sending_ip, pool, blocklist, provider;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`rollup_customer_1h_local` ON CLUSTER `mail`
(
    bucket          DateTime('UTC'),
    customer        LowCardinality(String),
    sender_domain   LowCardinality(String),
    category        LowCardinality(String),
    outcome         LowCardinality(String),
    events          SimpleAggregateFunction(sum, UInt64),
    recipients      AggregateFunction(uniq, String),
    first_seen      SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen       SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    last_response   AggregateFunction(argMax, String, DateTime64(3, 'UTC'))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/bouncehouse/rollup_customer_1h', '{replica}')
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, customer, sender_domain, category, outcome)
TTL bucket + INTERVAL 180 DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`rollup_customer_1h` ON CLUSTER `mail` AS `bouncehouse`.`rollup_customer_1h_local` ENGINE = Distributed(`mail`, `bouncehouse`, `rollup_customer_1h_local`, cityHash64(customer));

CREATE MATERIALIZED VIEW IF NOT EXISTS `bouncehouse`.`mv_rollup_customer_1h_local` ON CLUSTER `mail`
TO `bouncehouse`.`rollup_customer_1h_local` AS
SELECT
    toStartOfHour(event_time) AS bucket,
    customer, sender_domain, category, outcome,
    count() AS events,
    uniqState(recipient) AS recipients,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    argMaxState(response, event_time) AS last_response
FROM `bouncehouse`.`delivery_events_local`
WHERE direction = 'outbound' AND NOT notification
GROUP BY bucket, customer, sender_domain, category, outcome;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`rollup_provider_5m_local` ON CLUSTER `mail`
(
    bucket      DateTime('UTC'),
    provider    LowCardinality(String),
    outcome     LowCardinality(String),
    events      SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/bouncehouse/rollup_provider_5m', '{replica}')
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, provider, outcome)
TTL bucket + INTERVAL 180 DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`rollup_provider_5m` ON CLUSTER `mail` AS `bouncehouse`.`rollup_provider_5m_local` ENGINE = Distributed(`mail`, `bouncehouse`, `rollup_provider_5m_local`, cityHash64(provider));

CREATE MATERIALIZED VIEW IF NOT EXISTS `bouncehouse`.`mv_rollup_provider_5m_local` ON CLUSTER `mail`
TO `bouncehouse`.`rollup_provider_5m_local` AS
SELECT
    toStartOfFiveMinutes(event_time) AS bucket,
    provider, outcome,
    count() AS events
FROM `bouncehouse`.`delivery_events_local`
WHERE direction = 'outbound'
GROUP BY bucket, provider, outcome;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`categories_local` ON CLUSTER `mail`
(
    name            LowCardinality(String),
    category_group  LowCardinality(String),
    bounce_class    LowCardinality(String),
    action_party    LowCardinality(String),
    customer_issue  LowCardinality(String),
    summary         String,
    remediation     String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/global/bouncehouse/categories', '{replica}')
ORDER BY name;

CREATE TABLE IF NOT EXISTS `bouncehouse`.`blocklists_local` ON CLUSTER `mail`
(
    id          LowCardinality(String),
    family      LowCardinality(String),
    object      LowCardinality(String),
    delist_url  String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/global/bouncehouse/blocklists', '{replica}')
ORDER BY id;

CREATE OR REPLACE VIEW `bouncehouse`.`blocked_ips` ON CLUSTER `mail` AS
SELECT
    b.sending_ip AS sending_ip,
    b.ip_pool AS pool,
    b.providers AS providers,
    b.lists AS blocklists,
    arrayMap(l -> arrayFirst(x -> x.1 = l, ref.pairs).2, b.lists) AS delist_urls,
    b.blocked_attempts AS blocked_attempts,
    t.attempts AS attempts,
    round(b.blocked_attempts / greatest(t.attempts, 1), 4) AS blocked_share,
    s.since AS since,
    b.last_blocked AS last_blocked,
    b.example_response AS example_response,
    b.affected AS affected_customers
FROM
(
    SELECT
        sending_ip,
        anyIf(pool, pool != '') AS ip_pool,
        arraySort(groupUniqArrayIf(provider, provider != '')) AS providers,
        arraySort(arrayDistinct(arrayFlatten(groupArray(blocklists)))) AS lists,
        sum(events) AS blocked_attempts,
        max(last_seen) AS last_blocked,
        argMaxMerge(last_response) AS example_response,
        arraySort(arrayDistinct(arrayFlatten(groupArray(customers)))) AS affected
    FROM `bouncehouse`.`rollup_ip_provider_5m`
    WHERE bucket >= toStartOfFiveMinutes({t_end:DateTime64(3, 'UTC')} - toIntervalMinute({window_min:UInt32}))
      AND bucket <= {t_end:DateTime64(3, 'UTC')}
      AND last_seen > {t_end:DateTime64(3, 'UTC')} - toIntervalMinute({window_min:UInt32})
      AND first_seen <= {t_end:DateTime64(3, 'UTC')}
      AND category IN ('ip_blocklisted', 'reputation_block')
      AND sending_ip != ''
    GROUP BY sending_ip
) AS b
LEFT JOIN
(
    SELECT sending_ip, sum(events) AS attempts
    FROM `bouncehouse`.`rollup_ip_provider_5m`
    WHERE bucket >= toStartOfFiveMinutes({t_end:DateTime64(3, 'UTC')} - toIntervalMinute({window_min:UInt32}))
      AND bucket <= {t_end:DateTime64(3, 'UTC')}
      AND last_seen > {t_end:DateTime64(3, 'UTC')} - toIntervalMinute({window_min:UInt32})
      AND first_seen <= {t_end:DateTime64(3, 'UTC')}
      AND sending_ip != ''
    GROUP BY sending_ip
) AS t ON t.sending_ip = b.sending_ip
LEFT JOIN
(
    SELECT
        sending_ip,
        arraySort(groupUniqArray(bucket)) AS buckets,
        arrayFilter((x, prev) -> dateDiff('second', prev, x) > {window_min:UInt32} * 60, buckets,
            arrayPushFront(arrayPopBack(buckets), toDateTime(0, 'UTC'))) AS starts,
        starts[-1] AS since
    FROM `bouncehouse`.`rollup_ip_provider_5m`
    WHERE bucket > {t_end:DateTime64(3, 'UTC')} - INTERVAL 30 DAY
      AND bucket <= {t_end:DateTime64(3, 'UTC')}
      AND category IN ('ip_blocklisted', 'reputation_block')
      AND sending_ip != ''
    GROUP BY sending_ip
) AS s ON s.sending_ip = b.sending_ip
CROSS JOIN (SELECT groupArray((id, delist_url)) AS pairs FROM `bouncehouse`.`blocklists`) AS ref;

CREATE OR REPLACE VIEW `bouncehouse`.`blocked_ips_now` ON CLUSTER `mail` AS
SELECT * FROM `bouncehouse`.`blocked_ips`(t_end = now64(3), window_min = 60);

CREATE OR REPLACE VIEW `bouncehouse`.`misconfigured_customers` ON CLUSTER `mail` AS
SELECT
    r.customer AS customer,
    r.sender_domain AS sender_domain,
    c.customer_issue AS issue,
    r.category AS category,
    r.failures AS failures,
    t.attempts AS attempts,
    round(r.failures / greatest(t.attempts, 1), 4) AS failure_share,
    s.since AS since,
    r.last_failure AS last_seen,
    r.example_response AS example_response,
    c.remediation AS remediation
FROM
(
    SELECT
        customer, sender_domain, category,
        sum(events) AS failures,
        max(last_seen) AS last_failure,
        argMaxMerge(last_response) AS example_response
    FROM `bouncehouse`.`rollup_customer_1h`
    WHERE bucket >= toStartOfHour({t_end:DateTime64(3, 'UTC')} - toIntervalMinute({window_min:UInt32}))
      AND bucket <= {t_end:DateTime64(3, 'UTC')}
      AND last_seen > {t_end:DateTime64(3, 'UTC')} - toIntervalMinute({window_min:UInt32})
      AND first_seen <= {t_end:DateTime64(3, 'UTC')}
      AND outcome != 'delivered'
      AND customer != ''
      AND category IN (SELECT name FROM `bouncehouse`.`categories` WHERE customer_issue != '')
    GROUP BY customer, sender_domain, category
) AS r
INNER JOIN (SELECT name, customer_issue, remediation FROM `bouncehouse`.`categories` FINAL) AS c ON c.name = r.category
LEFT JOIN
(
    SELECT customer, sender_domain, sum(events) AS attempts
    FROM `bouncehouse`.`rollup_customer_1h`
    WHERE bucket >= toStartOfHour({t_end:DateTime64(3, 'UTC')} - toIntervalMinute({window_min:UInt32}))
      AND bucket <= {t_end:DateTime64(3, 'UTC')}
      AND last_seen > {t_end:DateTime64(3, 'UTC')} - toIntervalMinute({window_min:UInt32})
      AND first_seen <= {t_end:DateTime64(3, 'UTC')}
    GROUP BY customer, sender_domain
) AS t ON t.customer = r.customer AND t.sender_domain = r.sender_domain
LEFT JOIN
(
    SELECT
        customer, sender_domain, category,
        arraySort(groupUniqArray(bucket)) AS buckets,
        arrayFilter((x, prev) -> dateDiff('second', prev, x) > greatest({window_min:UInt32} * 60, 3600), buckets,
            arrayPushFront(arrayPopBack(buckets), toDateTime(0, 'UTC'))) AS starts,
        starts[-1] AS since
    FROM `bouncehouse`.`rollup_customer_1h`
    WHERE bucket > {t_end:DateTime64(3, 'UTC')} - INTERVAL 30 DAY
      AND bucket <= {t_end:DateTime64(3, 'UTC')}
      AND outcome != 'delivered'
      AND customer != ''
    GROUP BY customer, sender_domain, category
) AS s ON s.customer = r.customer AND s.sender_domain = r.sender_domain AND s.category = r.category;

CREATE OR REPLACE VIEW `bouncehouse`.`misconfigured_customers_now` ON CLUSTER `mail` AS
SELECT * FROM `bouncehouse`.`misconfigured_customers`(t_end = now64(3), window_min = 60);
