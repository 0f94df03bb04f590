-- Reference data, refreshed from the classifier's rule data by every migrate: what a
-- category means and what to do about it, and where each blocklist delists.
CREATE TABLE IF NOT EXISTS {{table "categories"}}{{onCluster}}
(
    name            LowCardinality(String),
    category_group  LowCardinality(String),
    bounce_class    LowCardinality(String),
    action_party    LowCardinality(String),
    customer_issue  LowCardinality(String),
    summary         String,
    remediation     String
)
ENGINE = {{engineGlobal "ReplacingMergeTree" "categories"}}
ORDER BY name;

CREATE TABLE IF NOT EXISTS {{table "blocklists"}}{{onCluster}}
(
    id          LowCardinality(String),
    family      LowCardinality(String),
    object      LowCardinality(String),
    delist_url  String
)
ENGINE = {{engineGlobal "ReplacingMergeTree" "blocklists"}}
ORDER BY id;
