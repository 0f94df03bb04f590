-- Views only: Migrate re-runs this migration whenever its text changes, since views hold no
-- data. Rollup buckets count in a row only if they hold an attempt up to t_end (first_seen)
-- and one inside the window (last_seen), so that a window ending in the past does not pick
-- up what came later in the same bucket.

-- blocked_ips(t_end, window_min): the sending IPs refused for an IP listing or for their
-- reputation in the window_min minutes up to t_end: where (providers), by which lists (with
-- their delisting pages), since when (the 5-minute bucket that started the current run of
-- blocks: a pause longer than the window starts a new one), what share of the IP's attempts, an example response
-- and the customers whose mail was hurt.
CREATE OR REPLACE VIEW {{view "blocked_ips"}}{{onCluster}} AS
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
    FROM {{view "rollup_ip_provider_5m"}}
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
    FROM {{view "rollup_ip_provider_5m"}}
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
    FROM {{view "rollup_ip_provider_5m"}}
    WHERE bucket > {t_end:DateTime64(3, 'UTC')} - INTERVAL 30 DAY
      AND bucket <= {t_end:DateTime64(3, 'UTC')}
      AND category IN ('ip_blocklisted', 'reputation_block')
      AND sending_ip != ''
    GROUP BY sending_ip
) AS s ON s.sending_ip = b.sending_ip
CROSS JOIN (SELECT groupArray((id, delist_url)) AS pairs FROM {{view "blocklists"}}) AS ref;

CREATE OR REPLACE VIEW {{view "blocked_ips_now"}}{{onCluster}} AS
SELECT * FROM {{view "blocked_ips"}}(t_end = now64(3), window_min = 60);

-- misconfigured_customers(t_end, window_min): customers (by sender domain) whose mail was
-- refused in the window for something they must fix on their side (SPF, DKIM, DMARC, auth,
-- relay, sender address, reverse DNS, loop), since when (the hour that started the current
-- run: a pause of more than an hour, or of the window, starts a new one), what share of their mail, an
-- example response and the remediation.
CREATE OR REPLACE VIEW {{view "misconfigured_customers"}}{{onCluster}} AS
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
    FROM {{view "rollup_customer_1h"}}
    WHERE bucket >= toStartOfHour({t_end:DateTime64(3, 'UTC')} - toIntervalMinute({window_min:UInt32}))
      AND bucket <= {t_end:DateTime64(3, 'UTC')}
      AND last_seen > {t_end:DateTime64(3, 'UTC')} - toIntervalMinute({window_min:UInt32})
      AND first_seen <= {t_end:DateTime64(3, 'UTC')}
      AND outcome != 'delivered'
      AND customer != ''
      AND category IN (SELECT name FROM {{view "categories"}} WHERE customer_issue != '')
    GROUP BY customer, sender_domain, category
) AS r
INNER JOIN (SELECT name, customer_issue, remediation FROM {{view "categories"}} FINAL) AS c ON c.name = r.category
LEFT JOIN
(
    SELECT customer, sender_domain, sum(events) AS attempts
    FROM {{view "rollup_customer_1h"}}
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
    FROM {{view "rollup_customer_1h"}}
    WHERE bucket > {t_end:DateTime64(3, 'UTC')} - INTERVAL 30 DAY
      AND bucket <= {t_end:DateTime64(3, 'UTC')}
      AND outcome != 'delivered'
      AND customer != ''
    GROUP BY customer, sender_domain, category
) AS s ON s.customer = r.customer AND s.sender_domain = r.sender_domain AND s.category = r.category;

CREATE OR REPLACE VIEW {{view "misconfigured_customers_now"}}{{onCluster}} AS
SELECT * FROM {{view "misconfigured_customers"}}(t_end = now64(3), window_min = 60);
