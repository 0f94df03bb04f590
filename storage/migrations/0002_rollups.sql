-- Rollups, kept by materialized views as rows are inserted, so that dashboards read
-- thousands of rows instead of millions. Counts are sums; the latest response of a group is
-- an argMax state; lists are unions. Inbound rejects (smtpd, postscreen) are not ours to
-- send and are left out; so are, for customers, our own bounce notifications.

-- Per sending IP × receiving provider × category × outcome, per 5 minutes.
CREATE TABLE IF NOT EXISTS {{table "rollup_ip_provider_5m"}}{{onCluster}}
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
ENGINE = {{engine "AggregatingMergeTree" "rollup_ip_provider_5m"}}
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, sending_ip, pool, provider, category, outcome)
TTL bucket + INTERVAL {{.RetentionDays}} DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000;
{{distributed "rollup_ip_provider_5m" "cityHash64(sending_ip)"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table "mv_rollup_ip_provider_5m"}}{{onCluster}}
TO {{table "rollup_ip_provider_5m"}} AS
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
FROM {{table "delivery_events"}}
WHERE direction = 'outbound'
GROUP BY bucket, sending_ip, pool, provider, category, outcome;

-- Per sending IP × blocklist × provider, per 5 minutes: the listing timeline.
CREATE TABLE IF NOT EXISTS {{table "rollup_ip_blocklist_5m"}}{{onCluster}}
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
ENGINE = {{engine "AggregatingMergeTree" "rollup_ip_blocklist_5m"}}
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, sending_ip, pool, blocklist, provider)
TTL bucket + INTERVAL {{.RetentionDays}} DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000;
{{distributed "rollup_ip_blocklist_5m" "cityHash64(sending_ip)"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table "mv_rollup_ip_blocklist_5m"}}{{onCluster}}
TO {{table "rollup_ip_blocklist_5m"}} AS
SELECT
    toStartOfFiveMinutes(event_time) AS bucket,
    sending_ip, pool, blocklist, provider,
    count() AS events,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen
FROM {{table "delivery_events"}}
ARRAY JOIN blocklist_providers AS blocklist
WHERE direction = 'outbound'
GROUP BY bucket, sending_ip, pool, blocklist, provider;

-- Per customer × sender domain × category × outcome, per hour.
CREATE TABLE IF NOT EXISTS {{table "rollup_customer_1h"}}{{onCluster}}
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
ENGINE = {{engine "AggregatingMergeTree" "rollup_customer_1h"}}
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, customer, sender_domain, category, outcome)
TTL bucket + INTERVAL {{.RetentionDays}} DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000;
{{distributed "rollup_customer_1h" "cityHash64(customer)"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table "mv_rollup_customer_1h"}}{{onCluster}}
TO {{table "rollup_customer_1h"}} AS
SELECT
    toStartOfHour(event_time) AS bucket,
    customer, sender_domain, category, outcome,
    count() AS events,
    uniqState(recipient) AS recipients,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    argMaxState(response, event_time) AS last_response
FROM {{table "delivery_events"}}
WHERE direction = 'outbound' AND NOT notification
GROUP BY bucket, customer, sender_domain, category, outcome;

-- Per receiving provider × outcome, per 5 minutes: acceptance, deferral and block rates.
CREATE TABLE IF NOT EXISTS {{table "rollup_provider_5m"}}{{onCluster}}
(
    bucket      DateTime('UTC'),
    provider    LowCardinality(String),
    outcome     LowCardinality(String),
    events      SimpleAggregateFunction(sum, UInt64)
)
ENGINE = {{engine "AggregatingMergeTree" "rollup_provider_5m"}}
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, provider, outcome)
TTL bucket + INTERVAL {{.RetentionDays}} DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000;
{{distributed "rollup_provider_5m" "cityHash64(provider)"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table "mv_rollup_provider_5m"}}{{onCluster}}
TO {{table "rollup_provider_5m"}} AS
SELECT
    toStartOfFiveMinutes(event_time) AS bucket,
    provider, outcome,
    count() AS events
FROM {{table "delivery_events"}}
WHERE direction = 'outbound'
GROUP BY bucket, provider, outcome;
