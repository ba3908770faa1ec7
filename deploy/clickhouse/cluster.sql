-- fundwatch schema for a replicated ClickHouse cluster, generated from src/store/migrations.ts
-- by scripts/gen-cluster-ddl.ts. Every replica holds all rows (one shard); the
-- ReplacingMergeTree dedup on deterministic ids works per replica as in the single node.
-- Apply once, then run processors and API replicas with CLICKHOUSE_URL pointing at the cluster
-- (e.g. through a load balancer) and FUNDWATCH_DB=fundwatch.

CREATE DATABASE IF NOT EXISTS fundwatch ON CLUSTER '{cluster}';

-- migration 1: events, claims, alerts, dead letters
CREATE TABLE IF NOT EXISTS fundwatch.events ON CLUSTER '{cluster}' (
  event_id String, event_type LowCardinality(String), event_time DateTime64(3, 'UTC'),
  fixmedins_code LowCardinality(String), psn_no String, mdtrt_id String,
  source_pos String, ingested_at DateTime64(3, 'UTC'), raw String CODEC(ZSTD(3))
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(event_time) ORDER BY (fixmedins_code, event_id);

CREATE TABLE IF NOT EXISTS fundwatch.visits ON CLUSTER '{cluster}' (
  mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), med_type LowCardinality(String),
  insutype LowCardinality(String), begntime DateTime64(3, 'UTC'), insuplc_admdvs LowCardinality(String), ipt_otp_no String,
  adm_dept_codg LowCardinality(String), atddr_no String, gend LowCardinality(String), brdy String,
  certno String, psn_name String, diagnoses Array(Tuple(diag_code String, diag_name String, maindiag_flag String)), event_id String, event_time DateTime64(3, 'UTC'),
  INDEX ix_inst fixmedins_code TYPE set(1000) GRANULARITY 4
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', event_time) PARTITION BY toYYYYMM(begntime) ORDER BY (psn_no, mdtrt_id);

CREATE TABLE IF NOT EXISTS fundwatch.discharges ON CLUSTER '{cluster}' (
  mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), endtime DateTime64(3, 'UTC'),
  dscg_way LowCardinality(String), dscg_maindiag_code String, diagnoses Array(Tuple(diag_code String, diag_name String, maindiag_flag String)),
  operations Array(Tuple(oprn_oprt_code String, oprn_oprt_date String)), event_id String, event_time DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', event_time) PARTITION BY toYYYYMM(endtime) ORDER BY (psn_no, mdtrt_id);

CREATE TABLE IF NOT EXISTS fundwatch.fee_lines ON CLUSTER '{cluster}' (
  psn_no String, mdtrt_id String, feedetl_sn String, fixmedins_code LowCardinality(String), fee_ocur_time DateTime64(3, 'UTC'),
  med_list_codg LowCardinality(String), medins_list_codg String, list_type LowCardinality(String),
  med_chrgitm_type LowCardinality(String), cnt Decimal(18, 4), pric Decimal(18, 2), det_item_fee_sumamt Decimal(18, 2),
  bilg_dept_codg LowCardinality(String), bilg_dr_codg String, prd_days Nullable(UInt16), hours Nullable(Decimal(18, 4)),
  event_id String, event_time DateTime64(3, 'UTC'),
  INDEX ix_inst fixmedins_code TYPE set(1000) GRANULARITY 4,
  INDEX ix_visit mdtrt_id TYPE bloom_filter GRANULARITY 4
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', event_time) PARTITION BY toYYYYMM(fee_ocur_time) ORDER BY (psn_no, mdtrt_id, feedetl_sn);

CREATE TABLE IF NOT EXISTS fundwatch.fee_reversals ON CLUSTER '{cluster}' (
  psn_no String, mdtrt_id String, feedetl_sn String, fixmedins_code LowCardinality(String), event_id String, event_time DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY tuple() ORDER BY (mdtrt_id, feedetl_sn);

CREATE TABLE IF NOT EXISTS fundwatch.settlements ON CLUSTER '{cluster}' (
  setl_id String, mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), setl_time DateTime64(3, 'UTC'),
  med_type LowCardinality(String), insutype LowCardinality(String),
  medfee_sumamt Decimal(18, 2), fulamt_ownpay_amt Decimal(18, 2), inscp_scp_amt Decimal(18, 2), hifp_pay Decimal(18, 2),
  fund_pay_sumamt Decimal(18, 2), acct_pay Decimal(18, 2), psn_cash_pay Decimal(18, 2),
  pay_grp_type LowCardinality(String), pay_grp_code String, pay_grp_weight Decimal(9, 4),
  event_id String, event_time DateTime64(3, 'UTC'),
  INDEX ix_inst fixmedins_code TYPE set(1000) GRANULARITY 4
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', event_time) PARTITION BY toYYYYMM(setl_time) ORDER BY (psn_no, setl_id);

CREATE TABLE IF NOT EXISTS fundwatch.settlement_reversals ON CLUSTER '{cluster}' (
  psn_no String, setl_id String, mdtrt_id String, fixmedins_code LowCardinality(String), event_id String, event_time DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY tuple() ORDER BY (setl_id);

CREATE TABLE IF NOT EXISTS fundwatch.inventory_movements ON CLUSTER '{cluster}' (
  fixmedins_code LowCardinality(String), med_list_codg LowCardinality(String), kind LowCardinality(String),
  cnt Decimal(18, 4), movement_time DateTime64(3, 'UTC'), batch_no String, mdtrt_id String, setl_id String, event_id String
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(movement_time) ORDER BY (fixmedins_code, med_list_codg, event_id);

CREATE TABLE IF NOT EXISTS fundwatch.alerts ON CLUSTER '{cluster}' (
  alert_id String, detector_id LowCardinality(String), detector_version LowCardinality(String), params_hash LowCardinality(String),
  result LowCardinality(String), severity LowCardinality(String), stage LowCardinality(String),
  fixmedins_code LowCardinality(String), admdvs LowCardinality(String), psn_no String, doctor String, mdtrt_id String, setl_id String,
  mdtrt_ids Array(String), feedetl_sns Array(String), setl_ids Array(String), event_ids Array(String),
  amount_at_risk Decimal(18, 2), title_zh String, title_en String, message_zh String, message_en String,
  evidence String, basis_zh String, basis_en String, event_time DateTime64(3, 'UTC'), detected_at DateTime64(3, 'UTC'),
  INDEX ix_detected detected_at TYPE minmax GRANULARITY 1
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', event_time) PARTITION BY toYYYYMM(event_time) ORDER BY (alert_id);

CREATE TABLE IF NOT EXISTS fundwatch.dead_letters ON CLUSTER '{cluster}' (
  dlq_id String, reason LowCardinality(String), detail String, source String, received_at DateTime64(3, 'UTC'), raw_base64 String CODEC(ZSTD(3))
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(received_at) ORDER BY (dlq_id);

-- migration 2: review workflow, cases, access control
CREATE TABLE IF NOT EXISTS fundwatch.users ON CLUSTER '{cluster}' (
  user_id String, name String, role LowCardinality(String), admdvs Array(String), fixmedins_codes Array(String),
  token_sha256 String, created_at DateTime64(3, 'UTC'), created_by String, revoked_at Nullable(DateTime64(3, 'UTC')), version UInt32
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version) ORDER BY user_id;

CREATE TABLE IF NOT EXISTS fundwatch.alert_actions ON CLUSTER '{cluster}' (
  action_id String, alert_id String, version UInt32, kind LowCardinality(String),
  from_status LowCardinality(String), status LowCardinality(String), reason String,
  assignee String, entered_at DateTime64(3, 'UTC'), due_at Nullable(DateTime64(3, 'UTC')),
  recovered_amount Decimal(18, 2), penalty_amount Decimal(18, 2), measures String, dismiss_reason String,
  detector_id LowCardinality(String), fixmedins_code LowCardinality(String), admdvs LowCardinality(String), amount_at_risk Decimal(18, 2),
  by_user String, by_name String, role LowCardinality(String), at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(at) ORDER BY (alert_id, version)
  SETTINGS non_replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS fundwatch.alert_status ON CLUSTER '{cluster}' (
  alert_id String, status LowCardinality(String), assignee String, entered_at DateTime64(3, 'UTC'), due_at Nullable(DateTime64(3, 'UTC')),
  recovered_amount Decimal(18, 2), penalty_amount Decimal(18, 2), measures String, dismiss_reason String,
  detector_id LowCardinality(String), fixmedins_code LowCardinality(String), admdvs LowCardinality(String), amount_at_risk Decimal(18, 2),
  updated_by String, updated_at DateTime64(3, 'UTC'), action_id String, version UInt32
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version) ORDER BY alert_id
  SETTINGS non_replicated_deduplication_window = 100000;

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
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(at) ORDER BY (case_id, version)
  SETTINGS non_replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS fundwatch.cases ON CLUSTER '{cluster}' (
  case_id String, title String, subject_kind LowCardinality(String), subject_fixmedins_code String, subject_doctor String, subject_psn_no String,
  status LowCardinality(String), alert_ids Array(String), fixmedins_codes Array(String), admdvs Array(String),
  assignee String, note String, created_by String, created_at DateTime64(3, 'UTC'), updated_by String, updated_at DateTime64(3, 'UTC'), action_id String, version UInt32
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version) ORDER BY case_id
  SETTINGS non_replicated_deduplication_window = 100000;

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.cases_mv ON CLUSTER '{cluster}' TO fundwatch.cases AS
  SELECT case_id, title, subject_kind, subject_fixmedins_code, subject_doctor, subject_psn_no, status, alert_ids, fixmedins_codes, admdvs,
  assignee, note, created_by, created_at, by_user AS updated_by, at AS updated_at, action_id, version
  FROM fundwatch.case_actions;

CREATE TABLE IF NOT EXISTS fundwatch.evidence_access_log ON CLUSTER '{cluster}' (
  access_id String, at DateTime64(3, 'UTC'), user_id String, user_name String, role LowCardinality(String),
  action LowCardinality(String), object_type LowCardinality(String), object_id String, purpose String, revealed Bool
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(at) ORDER BY (at, access_id);

-- migration 3: rule-base change record
CREATE TABLE IF NOT EXISTS fundwatch.rulebase_changes ON CLUSTER '{cluster}' (
  hash String, at DateTime64(3, 'UTC'), by String, source String, text String CODEC(ZSTD(3)), detectors Array(String)
  ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(at) ORDER BY (at, hash);

-- migration 4: admission: event and visit indexes, data quality
CREATE TABLE IF NOT EXISTS fundwatch.event_index ON CLUSTER '{cluster}' (
  event_id String, content_sha256 String, first_ingested SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
  ) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY tuple() ORDER BY (event_id, content_sha256);

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.event_index_mv ON CLUSTER '{cluster}' TO fundwatch.event_index AS
  SELECT event_id, lower(hex(SHA256(raw))) AS content_sha256, ingested_at AS first_ingested FROM fundwatch.events;

CREATE TABLE IF NOT EXISTS fundwatch.visit_index ON CLUSTER '{cluster}' (
  mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
  ) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY tuple() ORDER BY (mdtrt_id, psn_no, fixmedins_code);

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.visit_index_mv ON CLUSTER '{cluster}' TO fundwatch.visit_index AS
  SELECT mdtrt_id, psn_no, fixmedins_code, event_time AS first_seen FROM fundwatch.events
  WHERE mdtrt_id != '' AND event_type IN ('visit.opened', 'fee.uploaded', 'visit.closed', 'settlement.completed');

INSERT INTO fundwatch.event_index SELECT event_id, lower(hex(SHA256(raw))), ingested_at FROM fundwatch.events;

INSERT INTO fundwatch.visit_index SELECT mdtrt_id, psn_no, fixmedins_code, event_time FROM fundwatch.events
  WHERE mdtrt_id != '' AND event_type IN ('visit.opened', 'fee.uploaded', 'visit.closed', 'settlement.completed');

CREATE TABLE IF NOT EXISTS fundwatch.data_quality ON CLUSTER '{cluster}' (
  dq_id String, reason LowCardinality(String), detail String,
  event_id String, event_type LowCardinality(String), fixmedins_code LowCardinality(String), psn_no String, mdtrt_id String,
  refs Array(String), event_time DateTime64(3, 'UTC'), detected_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(event_time) ORDER BY (fixmedins_code, reason, dq_id);

-- migration 5: money as the national interface bounds it; sums that cannot overflow
ALTER TABLE fundwatch.fee_lines ON CLUSTER '{cluster}' MODIFY COLUMN pric Decimal(18, 6);

ALTER TABLE fundwatch.settlements ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS hosp_part_amt Decimal(18, 2) DEFAULT 0 AFTER psn_cash_pay;

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' MODIFY COLUMN amount_at_risk Decimal(38, 2);

ALTER TABLE fundwatch.alert_actions ON CLUSTER '{cluster}' MODIFY COLUMN amount_at_risk Decimal(38, 2);

ALTER TABLE fundwatch.alert_status ON CLUSTER '{cluster}' MODIFY COLUMN amount_at_risk Decimal(38, 2);

-- migration 6: detector errors
CREATE TABLE IF NOT EXISTS fundwatch.detector_errors ON CLUSTER '{cluster}' (
  event_id String, event_type LowCardinality(String), event_time DateTime64(3, 'UTC'), fixmedins_code LowCardinality(String),
  detector_id LowCardinality(String), detector_version LowCardinality(String), kind LowCardinality(String),
  detail String, elapsed_ms Float64, recorded_at DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', recorded_at) PARTITION BY toYYYYMM(event_time) ORDER BY (fixmedins_code, event_id, detector_id);

-- migration 7: alert revisions
ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS revision UInt32 DEFAULT 1;

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS status LowCardinality(String) DEFAULT 'active';

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS withdrawn_reason LowCardinality(String) DEFAULT '';

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS revised_at DateTime64(3, 'UTC') DEFAULT detected_at;

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS revision_event_id String DEFAULT '';

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' ADD INDEX IF NOT EXISTS ix_psn psn_no TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE fundwatch.alerts ON CLUSTER '{cluster}' MATERIALIZE INDEX ix_psn;

CREATE TABLE IF NOT EXISTS fundwatch.alert_revisions ON CLUSTER '{cluster}' (
  alert_id String, revision UInt32, status LowCardinality(String), withdrawn_reason LowCardinality(String),
  revision_event_id String, revised_at DateTime64(3, 'UTC'), detector_id LowCardinality(String), detector_version LowCardinality(String),
  fixmedins_code LowCardinality(String), admdvs LowCardinality(String), amount_at_risk Decimal(38, 2),
  feedetl_sns Array(String), setl_ids Array(String), message_zh String, message_en String, evidence String, event_time DateTime64(3, 'UTC')
  ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toYYYYMM(event_time) ORDER BY (alert_id, revision);

CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch.alert_revisions_mv ON CLUSTER '{cluster}' TO fundwatch.alert_revisions AS
  SELECT alert_id, revision, status, withdrawn_reason, revision_event_id, revised_at, detector_id, detector_version,
  fixmedins_code, admdvs, amount_at_risk, feedetl_sns, setl_ids, message_zh, message_en, evidence, event_time FROM fundwatch.alerts;

INSERT INTO fundwatch.alert_revisions SELECT alert_id, revision, status, withdrawn_reason, revision_event_id, revised_at, detector_id, detector_version,
  fixmedins_code, admdvs, amount_at_risk, feedetl_sns, setl_ids, message_zh, message_en, evidence, event_time FROM fundwatch.alerts;
