-- fundwatch schema for a replicated, sharded ClickHouse cluster, generated from
-- src/store/migrations.ts by scripts/gen-cluster-ddl.ts (layout: docs/clickhouse.md).
-- Prefer `FUNDWATCH_CLUSTER=<cluster> fundwatch migrate`: it runs exactly these statements
-- under the migration lock and applies FUNDWATCH_RETENTION_*. Applied by hand, this file
-- ends by recording the versions and the default retention, so a later migrate resumes from there.
-- '{cluster}' and the {shard}/{replica} macros come from each server's configuration.

CREATE DATABASE IF NOT EXISTS fundwatch ON CLUSTER '{cluster}';

-- the migrator's own tables
CREATE TABLE IF NOT EXISTS fundwatch.schema_migrations ON CLUSTER '{cluster}' (version UInt32, name String, applied_at DateTime64(3, 'UTC')) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}') ORDER BY version;

CREATE TABLE IF NOT EXISTS fundwatch.schema_migrations_lock ON CLUSTER '{cluster}' (
  generation UInt64, kind LowCardinality(String), holder String, at DateTime64(3, 'UTC'), expires_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}') ORDER BY (generation, kind)
  SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS fundwatch.retention_applied ON CLUSTER '{cluster}' (rule String, days UInt32, applied_at DateTime64(3, 'UTC')) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}', applied_at) ORDER BY rule;

-- migration 1: events, claims, alerts, dead letters
CREATE TABLE IF NOT EXISTS fundwatch.events_local ON CLUSTER '{cluster}' (
  event_id String, event_type LowCardinality(String), event_time DateTime64(3, 'UTC'),
  fixmedins_code LowCardinality(String), psn_no String, mdtrt_id String,
  source_pos String, ingested_at DateTime64(3, 'UTC'), raw String CODEC(ZSTD(3))
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(event_time) ORDER BY (fixmedins_code, event_id);

CREATE TABLE IF NOT EXISTS fundwatch.events ON CLUSTER '{cluster}' AS fundwatch.events_local ENGINE = Distributed('{cluster}', fundwatch, events_local, cityHash64(event_id));

CREATE TABLE IF NOT EXISTS fundwatch.visits_local ON CLUSTER '{cluster}' (
  mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), med_type LowCardinality(String),
  insutype LowCardinality(String), begntime DateTime64(3, 'UTC'), insuplc_admdvs LowCardinality(String), ipt_otp_no String,
  adm_dept_codg LowCardinality(String), atddr_no String, gend LowCardinality(String), brdy String,
  certno String, psn_name String, diagnoses Array(Tuple(diag_code String, diag_name String, maindiag_flag String)), event_id String, event_time DateTime64(3, 'UTC'),
  INDEX ix_inst fixmedins_code TYPE set(1000) GRANULARITY 4
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', event_time) PARTITION BY toYYYYMM(begntime) ORDER BY (psn_no, mdtrt_id) SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS fundwatch.visits ON CLUSTER '{cluster}' AS fundwatch.visits_local ENGINE = Distributed('{cluster}', fundwatch, visits_local, cityHash64(psn_no));

CREATE TABLE IF NOT EXISTS fundwatch.discharges_local ON CLUSTER '{cluster}' (
  mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), endtime DateTime64(3, 'UTC'),
  dscg_way LowCardinality(String), dscg_maindiag_code String, diagnoses Array(Tuple(diag_code String, diag_name String, maindiag_flag String)),
  operations Array(Tuple(oprn_oprt_code String, oprn_oprt_date String)), event_id String, event_time DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', event_time) PARTITION BY toYYYYMM(endtime) ORDER BY (psn_no, mdtrt_id) SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS fundwatch.discharges ON CLUSTER '{cluster}' AS fundwatch.discharges_local ENGINE = Distributed('{cluster}', fundwatch, discharges_local, cityHash64(psn_no));

CREATE TABLE IF NOT EXISTS fundwatch.fee_lines_local ON CLUSTER '{cluster}' (
  psn_no String, mdtrt_id String, feedetl_sn String, fixmedins_code LowCardinality(String), fee_ocur_time DateTime64(3, 'UTC'),
  med_list_codg LowCardinality(String), medins_list_codg String, list_type LowCardinality(String),
  med_chrgitm_type LowCardinality(String), cnt Decimal(18, 4), pric Decimal(18, 2), det_item_fee_sumamt Decimal(18, 2),
  bilg_dept_codg LowCardinality(String), bilg_dr_codg String, prd_days Nullable(UInt16), hours Nullable(Decimal(18, 4)),
  event_id String, event_time DateTime64(3, 'UTC'),
  INDEX ix_inst fixmedins_code TYPE set(1000) GRANULARITY 4,
  INDEX ix_visit mdtrt_id TYPE bloom_filter GRANULARITY 4
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', event_time) PARTITION BY toYYYYMM(fee_ocur_time) ORDER BY (psn_no, mdtrt_id, feedetl_sn) SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS fundwatch.fee_lines ON CLUSTER '{cluster}' AS fundwatch.fee_lines_local ENGINE = Distributed('{cluster}', fundwatch, fee_lines_local, cityHash64(psn_no));

CREATE TABLE IF NOT EXISTS fundwatch.fee_reversals_local ON CLUSTER '{cluster}' (
  psn_no String, mdtrt_id String, feedetl_sn String, fixmedins_code LowCardinality(String), event_id String, event_time DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY tuple() ORDER BY (mdtrt_id, feedetl_sn);

CREATE TABLE IF NOT EXISTS fundwatch.fee_reversals ON CLUSTER '{cluster}' AS fundwatch.fee_reversals_local ENGINE = Distributed('{cluster}', fundwatch, fee_reversals_local, cityHash64(psn_no));

CREATE TABLE IF NOT EXISTS fundwatch.settlements_local ON CLUSTER '{cluster}' (
  setl_id String, mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), setl_time DateTime64(3, 'UTC'),
  med_type LowCardinality(String), insutype LowCardinality(String),
  medfee_sumamt Decimal(18, 2), fulamt_ownpay_amt Decimal(18, 2), inscp_scp_amt Decimal(18, 2), hifp_pay Decimal(18, 2),
  fund_pay_sumamt Decimal(18, 2), acct_pay Decimal(18, 2), psn_cash_pay Decimal(18, 2),
  pay_grp_type LowCardinality(String), pay_grp_code String, pay_grp_weight Decimal(9, 4),
  event_id String, event_time DateTime64(3, 'UTC'),
  INDEX ix_inst fixmedins_code TYPE set(1000) GRANULARITY 4
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', event_time) PARTITION BY toYYYYMM(setl_time) ORDER BY (psn_no, setl_id) SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS fundwatch.settlements ON CLUSTER '{cluster}' AS fundwatch.settlements_local ENGINE = Distributed('{cluster}', fundwatch, settlements_local, cityHash64(psn_no));

CREATE TABLE IF NOT EXISTS fundwatch.settlement_reversals_local ON CLUSTER '{cluster}' (
  psn_no String, setl_id String, mdtrt_id String, fixmedins_code LowCardinality(String), event_id String, event_time DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY tuple() ORDER BY (setl_id);

CREATE TABLE IF NOT EXISTS fundwatch.settlement_reversals ON CLUSTER '{cluster}' AS fundwatch.settlement_reversals_local ENGINE = Distributed('{cluster}', fundwatch, settlement_reversals_local, cityHash64(psn_no));

CREATE TABLE IF NOT EXISTS fundwatch.inventory_movements_local ON CLUSTER '{cluster}' (
  fixmedins_code LowCardinality(String), med_list_codg LowCardinality(String), kind LowCardinality(String),
  cnt Decimal(18, 4), movement_time DateTime64(3, 'UTC'), batch_no String, mdtrt_id String, setl_id String, event_id String
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(movement_time) ORDER BY (fixmedins_code, med_list_codg, event_id);

CREATE TABLE IF NOT EXISTS fundwatch.inventory_movements ON CLUSTER '{cluster}' AS fundwatch.inventory_movements_local ENGINE = Distributed('{cluster}', fundwatch, inventory_movements_local, cityHash64(fixmedins_code));

CREATE TABLE IF NOT EXISTS fundwatch.alerts_local ON CLUSTER '{cluster}' (
  alert_id String, detector_id LowCardinality(String), detector_version LowCardinality(String), params_hash LowCardinality(String),
  result LowCardinality(String), severity LowCardinality(String), stage LowCardinality(String),
  fixmedins_code LowCardinality(String), admdvs LowCardinality(String), psn_no String, doctor String, mdtrt_id String, setl_id String,
  mdtrt_ids Array(String), feedetl_sns Array(String), setl_ids Array(String), event_ids Array(String),
  amount_at_risk Decimal(18, 2), title_zh String, title_en String, message_zh String, message_en String,
  evidence String, basis_zh String, basis_en String, event_time DateTime64(3, 'UTC'), detected_at DateTime64(3, 'UTC'),
  INDEX ix_detected detected_at TYPE minmax GRANULARITY 1
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', event_time) PARTITION BY toYYYYMM(event_time) ORDER BY (alert_id);

CREATE TABLE IF NOT EXISTS fundwatch.alerts ON CLUSTER '{cluster}' AS fundwatch.alerts_local ENGINE = Distributed('{cluster}', fundwatch, alerts_local, cityHash64(alert_id));

CREATE TABLE IF NOT EXISTS fundwatch.dead_letters_local ON CLUSTER '{cluster}' (
  dlq_id String, reason LowCardinality(String), detail String, source String, received_at DateTime64(3, 'UTC'), raw_base64 String CODEC(ZSTD(3))
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(received_at) ORDER BY (dlq_id);

CREATE TABLE IF NOT EXISTS fundwatch.dead_letters ON CLUSTER '{cluster}' AS fundwatch.dead_letters_local ENGINE = Distributed('{cluster}', fundwatch, dead_letters_local, cityHash64(dlq_id));

-- migration 2: review workflow, cases, access control
CREATE TABLE IF NOT EXISTS fundwatch.users ON CLUSTER '{cluster}' (
  user_id String, name String, role LowCardinality(String), admdvs Array(String), fixmedins_codes Array(String),
  token_sha256 String, created_at DateTime64(3, 'UTC'), created_by String, revoked_at Nullable(DateTime64(3, 'UTC')), version UInt32
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}', version) ORDER BY user_id;

CREATE TABLE IF NOT EXISTS fundwatch.alert_actions ON CLUSTER '{cluster}' (
  action_id String, alert_id String, version UInt32, kind LowCardinality(String),
  from_status LowCardinality(String), status LowCardinality(String), reason String,
  assignee String, entered_at DateTime64(3, 'UTC'), due_at Nullable(DateTime64(3, 'UTC')),
  recovered_amount Decimal(18, 2), penalty_amount Decimal(18, 2), measures String, dismiss_reason String,
  detector_id LowCardinality(String), fixmedins_code LowCardinality(String), admdvs LowCardinality(String), amount_at_risk Decimal(18, 2),
  by_user String, by_name String, role LowCardinality(String), at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}') PARTITION BY toYYYYMM(at) ORDER BY (alert_id, version)
  SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS fundwatch.alert_status ON CLUSTER '{cluster}' (
  alert_id String, status LowCardinality(String), assignee String, entered_at DateTime64(3, 'UTC'), due_at Nullable(DateTime64(3, 'UTC')),
  recovered_amount Decimal(18, 2), penalty_amount Decimal(18, 2), measures String, dismiss_reason String,
  detector_id LowCardinality(String), fixmedins_code LowCardinality(String), admdvs LowCardinality(String), amount_at_risk Decimal(18, 2),
  updated_by String, updated_at DateTime64(3, 'UTC'), action_id String, version UInt32
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}', version) ORDER BY alert_id
  SETTINGS replicated_deduplication_window = 100000;

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.alert_status_mv ON CLUSTER '{cluster}' TO fundwatch.alert_status AS
  SELECT alert_id, status, assignee, entered_at, due_at, recovered_amount, penalty_amount, measures, dismiss_reason,
  detector_id, fixmedins_code, admdvs, amount_at_risk, by_user AS updated_by, at AS updated_at, action_id, version
  FROM fundwatch.alert_actions;

CREATE TABLE IF NOT EXISTS fundwatch.case_actions ON CLUSTER '{cluster}' (
  action_id String, case_id String, version UInt32, what LowCardinality(String), detail String,
  title String, subject_kind LowCardinality(String), subject_fixmedins_code String, subject_doctor String, subject_psn_no String,
  status LowCardinality(String), alert_ids Array(String), fixmedins_codes Array(String), admdvs Array(String),
  assignee String, note String, created_by String, created_at DateTime64(3, 'UTC'),
  by_user String, by_name String, role LowCardinality(String), at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}') PARTITION BY toYYYYMM(at) ORDER BY (case_id, version)
  SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS fundwatch.cases ON CLUSTER '{cluster}' (
  case_id String, title String, subject_kind LowCardinality(String), subject_fixmedins_code String, subject_doctor String, subject_psn_no String,
  status LowCardinality(String), alert_ids Array(String), fixmedins_codes Array(String), admdvs Array(String),
  assignee String, note String, created_by String, created_at DateTime64(3, 'UTC'), updated_by String, updated_at DateTime64(3, 'UTC'), action_id String, version UInt32
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}', version) ORDER BY case_id
  SETTINGS replicated_deduplication_window = 100000;

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.cases_mv ON CLUSTER '{cluster}' TO fundwatch.cases AS
  SELECT case_id, title, subject_kind, subject_fixmedins_code, subject_doctor, subject_psn_no, status, alert_ids, fixmedins_codes, admdvs,
  assignee, note, created_by, created_at, by_user AS updated_by, at AS updated_at, action_id, version
  FROM fundwatch.case_actions;

CREATE TABLE IF NOT EXISTS fundwatch.evidence_access_log ON CLUSTER '{cluster}' (
  access_id String, at DateTime64(3, 'UTC'), user_id String, user_name String, role LowCardinality(String),
  action LowCardinality(String), object_type LowCardinality(String), object_id String, purpose String, revealed Bool
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}') PARTITION BY toYYYYMM(at) ORDER BY (at, access_id);

-- migration 3: rule-base change record
CREATE TABLE IF NOT EXISTS fundwatch.rulebase_changes ON CLUSTER '{cluster}' (
  hash String, at DateTime64(3, 'UTC'), by String, source String, text String CODEC(ZSTD(3)), detectors Array(String)
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}') PARTITION BY toYYYYMM(at) ORDER BY (at, hash);

-- migration 4: admission: event and visit indexes, data quality
CREATE TABLE IF NOT EXISTS fundwatch.event_index_local ON CLUSTER '{cluster}' (
  event_id String, content_sha256 String, first_ingested SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
  ) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY tuple() ORDER BY (event_id, content_sha256) SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS fundwatch.event_index ON CLUSTER '{cluster}' AS fundwatch.event_index_local ENGINE = Distributed('{cluster}', fundwatch, event_index_local, cityHash64(event_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.event_index_mv ON CLUSTER '{cluster}' TO fundwatch.event_index AS
  SELECT event_id, lower(hex(SHA256(raw))) AS content_sha256, ingested_at AS first_ingested FROM fundwatch.events_local;

CREATE TABLE IF NOT EXISTS fundwatch.visit_index_local ON CLUSTER '{cluster}' (
  mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
  ) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY tuple() ORDER BY (mdtrt_id, psn_no, fixmedins_code) SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS fundwatch.visit_index ON CLUSTER '{cluster}' AS fundwatch.visit_index_local ENGINE = Distributed('{cluster}', fundwatch, visit_index_local, cityHash64(mdtrt_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.visit_index_mv ON CLUSTER '{cluster}' TO fundwatch.visit_index AS
  SELECT mdtrt_id, psn_no, fixmedins_code, event_time AS first_seen FROM fundwatch.events_local
  WHERE mdtrt_id != '' AND event_type IN ('visit.opened', 'fee.uploaded', 'visit.closed', 'settlement.completed');

INSERT INTO fundwatch.event_index SELECT event_id, lower(hex(SHA256(raw))), ingested_at FROM fundwatch.events;

INSERT INTO fundwatch.visit_index SELECT mdtrt_id, psn_no, fixmedins_code, event_time FROM fundwatch.events
  WHERE mdtrt_id != '' AND event_type IN ('visit.opened', 'fee.uploaded', 'visit.closed', 'settlement.completed');

CREATE TABLE IF NOT EXISTS fundwatch.data_quality_local ON CLUSTER '{cluster}' (
  dq_id String, reason LowCardinality(String), detail String,
  event_id String, event_type LowCardinality(String), fixmedins_code LowCardinality(String), psn_no String, mdtrt_id String,
  refs Array(String), event_time DateTime64(3, 'UTC'), detected_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(event_time) ORDER BY (fixmedins_code, reason, dq_id);

CREATE TABLE IF NOT EXISTS fundwatch.data_quality ON CLUSTER '{cluster}' AS fundwatch.data_quality_local ENGINE = Distributed('{cluster}', fundwatch, data_quality_local, cityHash64(dq_id));

-- migration 5: money as the national interface bounds it; sums that cannot overflow
ALTER TABLE fundwatch.fee_lines_local ON CLUSTER '{cluster}' MODIFY COLUMN pric Decimal(18, 6);

ALTER TABLE fundwatch.fee_lines ON CLUSTER '{cluster}' MODIFY COLUMN pric Decimal(18, 6);

ALTER TABLE fundwatch.settlements_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS hosp_part_amt Decimal(18, 2) DEFAULT 0 AFTER psn_cash_pay;

ALTER TABLE fundwatch.settlements ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS hosp_part_amt Decimal(18, 2) DEFAULT 0 AFTER psn_cash_pay;

ALTER TABLE fundwatch.alerts_local ON CLUSTER '{cluster}' MODIFY COLUMN amount_at_risk Decimal(38, 2);

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' MODIFY COLUMN amount_at_risk Decimal(38, 2);

ALTER TABLE fundwatch.alert_actions ON CLUSTER '{cluster}' MODIFY COLUMN amount_at_risk Decimal(38, 2);

ALTER TABLE fundwatch.alert_status ON CLUSTER '{cluster}' MODIFY COLUMN amount_at_risk Decimal(38, 2);

-- migration 6: detector errors
CREATE TABLE IF NOT EXISTS fundwatch.detector_errors_local ON CLUSTER '{cluster}' (
  event_id String, event_type LowCardinality(String), event_time DateTime64(3, 'UTC'), fixmedins_code LowCardinality(String),
  detector_id LowCardinality(String), detector_version LowCardinality(String), kind LowCardinality(String),
  detail String, elapsed_ms Float64, recorded_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', recorded_at) PARTITION BY toYYYYMM(event_time) ORDER BY (fixmedins_code, event_id, detector_id);

CREATE TABLE IF NOT EXISTS fundwatch.detector_errors ON CLUSTER '{cluster}' AS fundwatch.detector_errors_local ENGINE = Distributed('{cluster}', fundwatch, detector_errors_local, cityHash64(event_id));

-- migration 7: alert revisions
ALTER TABLE fundwatch.alerts_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS revision UInt32 DEFAULT 1;

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS revision UInt32 DEFAULT 1;

ALTER TABLE fundwatch.alerts_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS status LowCardinality(String) DEFAULT 'active';

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS status LowCardinality(String) DEFAULT 'active';

ALTER TABLE fundwatch.alerts_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS withdrawn_reason LowCardinality(String) DEFAULT '';

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS withdrawn_reason LowCardinality(String) DEFAULT '';

ALTER TABLE fundwatch.alerts_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS revised_at DateTime64(3, 'UTC') DEFAULT detected_at;

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS revised_at DateTime64(3, 'UTC') DEFAULT detected_at;

ALTER TABLE fundwatch.alerts_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS revision_event_id String DEFAULT '';

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS revision_event_id String DEFAULT '';

ALTER TABLE fundwatch.alerts_local ON CLUSTER '{cluster}' ADD INDEX IF NOT EXISTS ix_psn psn_no TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE fundwatch.alerts_local ON CLUSTER '{cluster}' MATERIALIZE INDEX ix_psn;

CREATE TABLE IF NOT EXISTS fundwatch.alert_revisions_local ON CLUSTER '{cluster}' (
  alert_id String, revision UInt32, status LowCardinality(String), withdrawn_reason LowCardinality(String),
  revision_event_id String, revised_at DateTime64(3, 'UTC'), detector_id LowCardinality(String), detector_version LowCardinality(String),
  fixmedins_code LowCardinality(String), admdvs LowCardinality(String), amount_at_risk Decimal(38, 2),
  feedetl_sns Array(String), setl_ids Array(String), message_zh String, message_en String, evidence String, event_time DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(event_time) ORDER BY (alert_id, revision);

CREATE TABLE IF NOT EXISTS fundwatch.alert_revisions ON CLUSTER '{cluster}' AS fundwatch.alert_revisions_local ENGINE = Distributed('{cluster}', fundwatch, alert_revisions_local, cityHash64(alert_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.alert_revisions_mv ON CLUSTER '{cluster}' TO fundwatch.alert_revisions AS
  SELECT alert_id, revision, status, withdrawn_reason, revision_event_id, revised_at, detector_id, detector_version,
  fixmedins_code, admdvs, amount_at_risk, feedetl_sns, setl_ids, message_zh, message_en, evidence, event_time FROM fundwatch.alerts_local;

INSERT INTO fundwatch.alert_revisions SELECT alert_id, revision, status, withdrawn_reason, revision_event_id, revised_at, detector_id, detector_version,
  fixmedins_code, admdvs, amount_at_risk, feedetl_sns, setl_ids, message_zh, message_en, evidence, event_time FROM fundwatch.alerts;

-- migration 8: reversals found by person
ALTER TABLE fundwatch.fee_reversals_local ON CLUSTER '{cluster}' MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';

ALTER TABLE fundwatch.fee_reversals_local ON CLUSTER '{cluster}' ADD PROJECTION IF NOT EXISTS by_psn (SELECT * ORDER BY psn_no);

ALTER TABLE fundwatch.fee_reversals_local ON CLUSTER '{cluster}' MATERIALIZE PROJECTION by_psn;

ALTER TABLE fundwatch.settlement_reversals_local ON CLUSTER '{cluster}' MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';

ALTER TABLE fundwatch.settlement_reversals_local ON CLUSTER '{cluster}' ADD PROJECTION IF NOT EXISTS by_psn (SELECT * ORDER BY psn_no);

ALTER TABLE fundwatch.settlement_reversals_local ON CLUSTER '{cluster}' MATERIALIZE PROJECTION by_psn;

-- migration 9: visit updates and cancellations; the charge batch of fee lines
CREATE TABLE IF NOT EXISTS fundwatch.visit_updates_local ON CLUSTER '{cluster}' (
  psn_no String, mdtrt_id String, fixmedins_code LowCardinality(String), med_type LowCardinality(String),
  adm_dept_codg LowCardinality(String), atddr_no String, has_diagnoses UInt8, diagnoses Array(Tuple(diag_code String, diag_name String, maindiag_flag String)), event_id String, event_time DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(event_time) ORDER BY (psn_no, mdtrt_id, event_id) SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS fundwatch.visit_updates ON CLUSTER '{cluster}' AS fundwatch.visit_updates_local ENGINE = Distributed('{cluster}', fundwatch, visit_updates_local, cityHash64(psn_no));

CREATE TABLE IF NOT EXISTS fundwatch.visit_cancellations_local ON CLUSTER '{cluster}' (
  psn_no String, mdtrt_id String, fixmedins_code LowCardinality(String), cancels LowCardinality(String), event_id String, event_time DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(event_time) ORDER BY (psn_no, mdtrt_id, event_id) SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS fundwatch.visit_cancellations ON CLUSTER '{cluster}' AS fundwatch.visit_cancellations_local ENGINE = Distributed('{cluster}', fundwatch, visit_cancellations_local, cityHash64(psn_no));

ALTER TABLE fundwatch.fee_lines_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS chrg_bchno String DEFAULT '';

ALTER TABLE fundwatch.fee_lines ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS chrg_bchno String DEFAULT '';

-- migration 10: national 3103 feedback
CREATE TABLE IF NOT EXISTS fundwatch.precheck_findings ON CLUSTER '{cluster}' (
  alert_id String, fixmedins_code LowCardinality(String), admdvs LowCardinality(String),
  detector_id LowCardinality(String), detector_version LowCardinality(String), answered_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}') PARTITION BY tuple() ORDER BY (alert_id, fixmedins_code);

CREATE TABLE IF NOT EXISTS fundwatch.national_feedback ON CLUSTER '{cluster}' (
  feedback_id String, alert_id String, fixmedins_code LowCardinality(String), admdvs LowCardinality(String),
  detector_id LowCardinality(String), against LowCardinality(String), warn_type LowCardinality(String),
  dspo_way LowCardinality(String), dspo_way_rea String, msgid String, opter_type LowCardinality(String),
  opter String, opter_name String, inf_time DateTime64(3, 'UTC'), received_at DateTime64(3, 'UTC'), by_user String
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}') PARTITION BY tuple() ORDER BY (alert_id, feedback_id)
  SETTINGS replicated_deduplication_window = 100000;

-- migration 11: versioned rule base: reason and parent of each change
ALTER TABLE fundwatch.rulebase_changes ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS reason String DEFAULT '';

ALTER TABLE fundwatch.rulebase_changes ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS parent String DEFAULT '';

-- migration 12: shadow alerts
CREATE TABLE IF NOT EXISTS fundwatch.shadow_alerts_local ON CLUSTER '{cluster}' (
  alert_id String, detector_id LowCardinality(String), detector_version LowCardinality(String), params_hash LowCardinality(String),
  result LowCardinality(String), severity LowCardinality(String), stage LowCardinality(String),
  fixmedins_code LowCardinality(String), admdvs LowCardinality(String), psn_no String, doctor String, mdtrt_id String, setl_id String,
  mdtrt_ids Array(String), feedetl_sns Array(String), setl_ids Array(String), event_ids Array(String),
  amount_at_risk Decimal(38, 2), title_zh String, title_en String, message_zh String, message_en String,
  evidence String, basis_zh String, basis_en String, event_time DateTime64(3, 'UTC'), detected_at DateTime64(3, 'UTC'),
  revision UInt32 DEFAULT 1, status LowCardinality(String) DEFAULT 'active', withdrawn_reason LowCardinality(String) DEFAULT '',
  revised_at DateTime64(3, 'UTC') DEFAULT detected_at, revision_event_id String DEFAULT '',
  INDEX ix_detected detected_at TYPE minmax GRANULARITY 1,
  INDEX ix_psn psn_no TYPE bloom_filter(0.01) GRANULARITY 1
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', event_time) PARTITION BY toYYYYMM(event_time) ORDER BY (alert_id);

CREATE TABLE IF NOT EXISTS fundwatch.shadow_alerts ON CLUSTER '{cluster}' AS fundwatch.shadow_alerts_local ENGINE = Distributed('{cluster}', fundwatch, shadow_alerts_local, cityHash64(alert_id));

-- migration 13: backtest runs
CREATE TABLE IF NOT EXISTS fundwatch.backtest_runs ON CLUSTER '{cluster}' (
  job_id String, status LowCardinality(String), by String, window_from DateTime64(3, 'UTC'), window_to DateTime64(3, 'UTC'),
  baseline_hash String, candidate_hash String, events_done UInt64, events_total UInt64,
  started_at DateTime64(3, 'UTC'), finished_at DateTime64(3, 'UTC'), error String, result String CODEC(ZSTD(3))
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}', finished_at) PARTITION BY tuple() ORDER BY job_id;

-- migration 14: ingest: the bytes received in, views build events and the typed tables
CREATE TABLE IF NOT EXISTS fundwatch.ingest ON CLUSTER '{cluster}' (
  event_id String, event_type LowCardinality(String), psn_no String, feedetl_sns Array(String), source_pos String, ingested_at DateTime64(3, 'UTC'), raw String, doc String
  ) ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.ingest_events_mv ON CLUSTER '{cluster}' TO fundwatch.events AS
  SELECT event_id, event_type, parseDateTime64BestEffort(h.event_time, 3, 'UTC') AS event_time, h.source.fixmedins_code AS fixmedins_code, psn_no, h.payload.mdtrt_id AS mdtrt_id, source_pos, ingested_at, raw
  FROM (SELECT event_id, event_type, psn_no, source_pos, ingested_at, raw, JSONExtract(if(doc = '', raw, doc), 'Tuple(event_time String, source Tuple(fixmedins_code String), payload Tuple(mdtrt_id String))') AS h FROM fundwatch.ingest);

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.ingest_visits_mv ON CLUSTER '{cluster}' TO fundwatch.visits AS
  SELECT h.payload.mdtrt_id AS mdtrt_id, psn_no, h.source.fixmedins_code AS fixmedins_code, h.payload.med_type AS med_type, h.payload.insutype AS insutype, parseDateTime64BestEffort(h.payload.begntime, 3, 'UTC') AS begntime,
  h.payload.insuplc_admdvs AS insuplc_admdvs, h.payload.ipt_otp_no AS ipt_otp_no, h.payload.adm_dept_codg AS adm_dept_codg, h.payload.atddr_no AS atddr_no,
  ifNull(h.payload.psn.gend, '9') AS gend, h.payload.psn.brdy AS brdy, h.payload.psn.certno AS certno, h.payload.psn.psn_name AS psn_name,
  h.payload.diagnoses AS diagnoses, event_id, parseDateTime64BestEffort(h.event_time, 3, 'UTC') AS event_time
  FROM (SELECT event_id, psn_no, JSONExtract(if(doc = '', raw, doc), 'Tuple(event_time String, source Tuple(fixmedins_code String), payload Tuple(mdtrt_id String, med_type String, insutype String, begntime String, insuplc_admdvs String, ipt_otp_no String,
  adm_dept_codg String, atddr_no String, psn Tuple(gend Nullable(String), brdy String, certno String, psn_name String), diagnoses Array(Tuple(diag_code String, diag_name String, maindiag_flag String))))') AS h
  FROM fundwatch.ingest WHERE event_type = 'visit.opened');

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.ingest_discharges_mv ON CLUSTER '{cluster}' TO fundwatch.discharges AS
  SELECT h.payload.mdtrt_id AS mdtrt_id, psn_no, h.source.fixmedins_code AS fixmedins_code, parseDateTime64BestEffort(h.payload.endtime, 3, 'UTC') AS endtime, h.payload.dscg_way AS dscg_way,
  h.payload.dscg_maindiag_code AS dscg_maindiag_code, h.payload.diagnoses AS diagnoses, h.payload.operations AS operations, event_id, parseDateTime64BestEffort(h.event_time, 3, 'UTC') AS event_time
  FROM (SELECT event_id, psn_no, JSONExtract(if(doc = '', raw, doc), 'Tuple(event_time String, source Tuple(fixmedins_code String), payload Tuple(mdtrt_id String, endtime String, dscg_way String, dscg_maindiag_code String, diagnoses Array(Tuple(diag_code String, diag_name String, maindiag_flag String)),
  operations Array(Tuple(oprn_oprt_code String, oprn_oprt_date String))))') AS h
  FROM fundwatch.ingest WHERE event_type = 'visit.closed');

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.ingest_fee_lines_mv ON CLUSTER '{cluster}' TO fundwatch.fee_lines AS
  SELECT psn_no, h.payload.mdtrt_id AS mdtrt_id, l.feedetl_sn AS feedetl_sn, h.source.fixmedins_code AS fixmedins_code, parseDateTime64BestEffort(l.fee_ocur_time, 3, 'UTC') AS fee_ocur_time,
  l.med_list_codg AS med_list_codg, l.medins_list_codg AS medins_list_codg, l.list_type AS list_type, l.med_chrgitm_type AS med_chrgitm_type,
  l.cnt AS cnt, l.pric AS pric, l.det_item_fee_sumamt AS det_item_fee_sumamt, l.bilg_dept_codg AS bilg_dept_codg, l.bilg_dr_codg AS bilg_dr_codg,
  l.prd_days AS prd_days, l.hours AS hours, chrg AS chrg_bchno, event_id, parseDateTime64BestEffort(h.event_time, 3, 'UTC') AS event_time
  FROM (SELECT event_id, psn_no, JSONExtract(if(doc = '', raw, doc), 'Tuple(event_time String, source Tuple(fixmedins_code String), payload Tuple(mdtrt_id String, lines Array(Tuple(feedetl_sn String, fee_ocur_time String, med_list_codg String,
  medins_list_codg String, list_type String, med_chrgitm_type String, cnt Decimal(18, 4), pric Decimal(18, 6), det_item_fee_sumamt Decimal(18, 2),
  bilg_dept_codg String, bilg_dr_codg String, prd_days Nullable(UInt16), hours Nullable(Decimal(18, 4))))))') AS h,
  arrayMap(x -> if(JSONType(x, 'chrg_bchno') = 'String', JSONExtractString(x, 'chrg_bchno'), ''), JSONExtractArrayRaw(if(doc = '', raw, doc), 'payload', 'lines')) AS chrgs
  FROM fundwatch.ingest WHERE event_type = 'fee.uploaded')
  ARRAY JOIN h.payload.lines AS l, chrgs AS chrg;

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.ingest_fee_reversals_mv ON CLUSTER '{cluster}' TO fundwatch.fee_reversals AS
  SELECT psn_no, h.payload.mdtrt_id AS mdtrt_id, feedetl_sn, h.source.fixmedins_code AS fixmedins_code, event_id, parseDateTime64BestEffort(h.event_time, 3, 'UTC') AS event_time
  FROM (SELECT event_id, psn_no, feedetl_sns, JSONExtract(if(doc = '', raw, doc), 'Tuple(event_time String, source Tuple(fixmedins_code String), payload Tuple(mdtrt_id String))') AS h FROM fundwatch.ingest WHERE event_type = 'fee.reversed')
  ARRAY JOIN feedetl_sns AS feedetl_sn;

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.ingest_settlements_mv ON CLUSTER '{cluster}' TO fundwatch.settlements AS
  SELECT h.payload.setl_id AS setl_id, h.payload.mdtrt_id AS mdtrt_id, psn_no, h.source.fixmedins_code AS fixmedins_code, parseDateTime64BestEffort(h.payload.setl_time, 3, 'UTC') AS setl_time,
  h.payload.med_type AS med_type, h.payload.insutype AS insutype, h.payload.medfee_sumamt AS medfee_sumamt, h.payload.fulamt_ownpay_amt AS fulamt_ownpay_amt,
  h.payload.inscp_scp_amt AS inscp_scp_amt, h.payload.hifp_pay AS hifp_pay, h.payload.fund_pay_sumamt AS fund_pay_sumamt, h.payload.acct_pay AS acct_pay,
  h.payload.psn_cash_pay AS psn_cash_pay, h.payload.hosp_part_amt AS hosp_part_amt, h.payload.pay_grp.type AS pay_grp_type,
  h.payload.pay_grp.code AS pay_grp_code, h.payload.pay_grp.weight AS pay_grp_weight, event_id, parseDateTime64BestEffort(h.event_time, 3, 'UTC') AS event_time
  FROM (SELECT event_id, psn_no, JSONExtract(if(doc = '', raw, doc), 'Tuple(event_time String, source Tuple(fixmedins_code String), payload Tuple(setl_id String, mdtrt_id String, setl_time String, med_type String, insutype String,
  medfee_sumamt Decimal(18, 2), fulamt_ownpay_amt Decimal(18, 2), inscp_scp_amt Decimal(18, 2), hifp_pay Decimal(18, 2),
  fund_pay_sumamt Decimal(18, 2), acct_pay Decimal(18, 2), psn_cash_pay Decimal(18, 2), hosp_part_amt Decimal(18, 2),
  pay_grp Tuple(type String, code String, weight Decimal(9, 4))))') AS h
  FROM fundwatch.ingest WHERE event_type = 'settlement.completed');

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.ingest_settlement_reversals_mv ON CLUSTER '{cluster}' TO fundwatch.settlement_reversals AS
  SELECT psn_no, h.payload.setl_id AS setl_id, h.payload.mdtrt_id AS mdtrt_id, h.source.fixmedins_code AS fixmedins_code, event_id, parseDateTime64BestEffort(h.event_time, 3, 'UTC') AS event_time
  FROM (SELECT event_id, psn_no, JSONExtract(if(doc = '', raw, doc), 'Tuple(event_time String, source Tuple(fixmedins_code String), payload Tuple(setl_id String, mdtrt_id String))') AS h FROM fundwatch.ingest WHERE event_type = 'settlement.reversed');

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.ingest_visit_updates_mv ON CLUSTER '{cluster}' TO fundwatch.visit_updates AS
  SELECT psn_no, h.payload.mdtrt_id AS mdtrt_id, h.source.fixmedins_code AS fixmedins_code, h.payload.med_type AS med_type, h.payload.adm_dept_codg AS adm_dept_codg,
  h.payload.atddr_no AS atddr_no, has_diagnoses, h.payload.diagnoses AS diagnoses, event_id, parseDateTime64BestEffort(h.event_time, 3, 'UTC') AS event_time
  FROM (SELECT event_id, psn_no, toUInt8(JSONHas(if(doc = '', raw, doc), 'payload', 'diagnoses')) AS has_diagnoses,
  JSONExtract(if(doc = '', raw, doc), 'Tuple(event_time String, source Tuple(fixmedins_code String), payload Tuple(mdtrt_id String, med_type String, adm_dept_codg String, atddr_no String, diagnoses Array(Tuple(diag_code String, diag_name String, maindiag_flag String))))') AS h
  FROM fundwatch.ingest WHERE event_type = 'visit.updated');

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.ingest_visit_cancellations_mv ON CLUSTER '{cluster}' TO fundwatch.visit_cancellations AS
  SELECT psn_no, h.payload.mdtrt_id AS mdtrt_id, h.source.fixmedins_code AS fixmedins_code, h.payload.cancels AS cancels, event_id, parseDateTime64BestEffort(h.event_time, 3, 'UTC') AS event_time
  FROM (SELECT event_id, psn_no, JSONExtract(if(doc = '', raw, doc), 'Tuple(event_time String, source Tuple(fixmedins_code String), payload Tuple(mdtrt_id String, cancels String))') AS h FROM fundwatch.ingest WHERE event_type = 'visit.cancelled');

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.ingest_inventory_movements_mv ON CLUSTER '{cluster}' TO fundwatch.inventory_movements AS
  SELECT h.payload.fixmedins_code AS fixmedins_code, h.payload.med_list_codg AS med_list_codg, h.payload.kind AS kind, h.payload.cnt AS cnt,
  parseDateTime64BestEffort(h.payload.movement_time, 3, 'UTC') AS movement_time, h.payload.batch_no AS batch_no, h.payload.mdtrt_id AS mdtrt_id, h.payload.setl_id AS setl_id, event_id
  FROM (SELECT event_id, JSONExtract(if(doc = '', raw, doc), 'Tuple(event_time String, source Tuple(fixmedins_code String), payload Tuple(fixmedins_code String, med_list_codg String, kind String, cnt Decimal(18, 4), movement_time String,
  batch_no String, mdtrt_id String, setl_id String))') AS h FROM fundwatch.ingest WHERE event_type = 'inventory.movement');

-- migration 15: tables read a few rows at a time in small granules
-- retention, the documented defaults (docs/clickhouse.md#retention)
ALTER TABLE fundwatch.events_local ON CLUSTER '{cluster}' MODIFY COLUMN raw TTL toDateTime(event_time) + INTERVAL 1827 DAY;

ALTER TABLE fundwatch.visits_local ON CLUSTER '{cluster}' MODIFY COLUMN certno TTL toDateTime(begntime) + INTERVAL 1827 DAY, MODIFY COLUMN psn_name TTL toDateTime(begntime) + INTERVAL 1827 DAY, MODIFY COLUMN brdy TTL toDateTime(begntime) + INTERVAL 1827 DAY;

ALTER TABLE fundwatch.dead_letters_local ON CLUSTER '{cluster}' MODIFY COLUMN raw_base64 TTL toDateTime(received_at) + INTERVAL 365 DAY;

-- what the migrator reads to know what is applied
INSERT INTO fundwatch.schema_migrations (version, name, applied_at) VALUES
  (1, 'events, claims, alerts, dead letters', now64(3)),
  (2, 'review workflow, cases, access control', now64(3)),
  (3, 'rule-base change record', now64(3)),
  (4, 'admission: event and visit indexes, data quality', now64(3)),
  (5, 'money as the national interface bounds it; sums that cannot overflow', now64(3)),
  (6, 'detector errors', now64(3)),
  (7, 'alert revisions', now64(3)),
  (8, 'reversals found by person', now64(3)),
  (9, 'visit updates and cancellations; the charge batch of fee lines', now64(3)),
  (10, 'national 3103 feedback', now64(3)),
  (11, 'versioned rule base: reason and parent of each change', now64(3)),
  (12, 'shadow alerts', now64(3)),
  (13, 'backtest runs', now64(3)),
  (14, 'ingest: the bytes received in, views build events and the typed tables', now64(3)),
  (15, 'tables read a few rows at a time in small granules', now64(3));

INSERT INTO fundwatch.retention_applied (rule, days, applied_at) VALUES
  ('events_raw', 1827, now64(3)),
  ('visits_personal', 1827, now64(3)),
  ('dead_letters_raw', 365, now64(3));
