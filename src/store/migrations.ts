import { clusterStatements, localName } from './cluster.ts'
import { withMigrationLock, type LockOptions } from './lock.ts'
import { DEFAULT_RETENTION, RETENTION_RULES, retentionStatement, type Retention } from './retention.ts'
import type { Store } from './store.ts'

/**
 * Versioned, idempotent migrations owned by the app (`fundwatch migrate`).
 * `{db}` is the store's database, checked to be a plain identifier when the
 * store opens — the only thing ever interpolated into SQL.
 *
 * Every table that receives pipeline output is a ReplacingMergeTree whose
 * sorting key is the row's deterministic id, so a batch replayed after a crash
 * collapses onto the rows it already wrote (the lookup indexes fed by views
 * are AggregatingMergeTrees keyed the same way). The partition key must be a pure
 * function of that id's facts too (dedup happens within a partition only).
 * Reads that must not see duplicates use FINAL or argMax.
 */
export interface Migration {
  version: number
  name: string
  statements: string[]
  /**
   * Tables rebuilt with a smaller index granularity, a setting a table cannot
   * change once it exists: each is copied while its views write both copies,
   * then swapped in by name (rebuildTable). One node only: on a cluster,
   * migrate leaves them and names them (docs/clickhouse.md).
   */
  rebuild?: { tables: string[]; granularity: number }
}

const T = `DateTime64(3, 'UTC')`
/**
 * Rows per granule of the tables read a few rows at a time: a person's
 * history (a state load, a pre-check) and the admission indexes (an event id,
 * a visit id). Such a read finds its rows in every part of the table and
 * decompresses whole granules around them: with ClickHouse's default 8,192
 * rows, a few rows cost thousands (docs/design.md).
 */
export const POINT_GRANULARITY = 256
const POINT_SETTINGS = `SETTINGS index_granularity = ${POINT_GRANULARITY}`
/** The column type of a diagnosis list (visits, discharges, visit_updates). */
export const DIAGS = `Array(Tuple(diag_code String, diag_name String, maindiag_flag String))`

/** The ingest table's columns, in the order src/store/rows.ts writes them (TabSeparated). */
export const INGEST_COLUMNS = `event_id String, event_type LowCardinality(String), psn_no String, feedetl_sns Array(String), source_pos String, ingested_at ${T}, raw String, doc String`

/**
 * The views of migration 14: one per table a stored event feeds. Each reads
 * the contract event (`doc`, or the bytes themselves) once, with one typed
 * JSONExtract into a named tuple (a field left out takes its type's default:
 * '' for text, 0 for an amount, NULL where the column is Nullable), and fee
 * lines are split once per event, before the lines are joined out. Times are
 * parsed as src/util/time.ts chTime(Date.parse(…)) did in JavaScript: RFC
 * 3339 with its offset to the UTC instant, kept to the millisecond (further
 * digits dropped). The equivalence test (test/store/ingest-views.test.ts)
 * holds every view to the rows the JavaScript built before.
 * A later migration that adds a column to one of these tables must replace
 * its view too (ALTER TABLE … MODIFY QUERY, which src/store/cluster.ts will
 * need a rule for), or the column is only ever its default from then on.
 */
const D = `if(doc = '', raw, doc)`
const tm = (expr: string) => `parseDateTime64BestEffort(${expr}, 3, 'UTC')`
/** The envelope fields every view takes, and the payload fields `fields` of one event type, as one named tuple `h`. */
const head = (payload: string) => `JSONExtract(${D}, 'Tuple(event_time String, source Tuple(fixmedins_code String), payload Tuple(${payload}))') AS h`
const P = (f: string) => `h.payload.${f}`
const ENV = `h.source.fixmedins_code AS fixmedins_code`
const EVENT_TIME = `${tm('h.event_time')} AS event_time`
const INGEST_VIEWS: string[] = [
  `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ingest_events_mv TO {db}.events AS
    SELECT event_id, event_type, ${EVENT_TIME}, ${ENV}, psn_no, ${P('mdtrt_id')} AS mdtrt_id, source_pos, ingested_at, raw
    FROM (SELECT event_id, event_type, psn_no, source_pos, ingested_at, raw, ${head('mdtrt_id String')} FROM {db}.ingest)`,
  // gend '9' when the sender gave no psn (a national registration without a resident ID).
  `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ingest_visits_mv TO {db}.visits AS
    SELECT ${P('mdtrt_id')} AS mdtrt_id, psn_no, ${ENV}, ${P('med_type')} AS med_type, ${P('insutype')} AS insutype, ${tm(P('begntime'))} AS begntime,
      ${P('insuplc_admdvs')} AS insuplc_admdvs, ${P('ipt_otp_no')} AS ipt_otp_no, ${P('adm_dept_codg')} AS adm_dept_codg, ${P('atddr_no')} AS atddr_no,
      ifNull(${P('psn.gend')}, '9') AS gend, ${P('psn.brdy')} AS brdy, ${P('psn.certno')} AS certno, ${P('psn.psn_name')} AS psn_name,
      ${P('diagnoses')} AS diagnoses, event_id, ${EVENT_TIME}
    FROM (SELECT event_id, psn_no, ${head(`mdtrt_id String, med_type String, insutype String, begntime String, insuplc_admdvs String, ipt_otp_no String,
      adm_dept_codg String, atddr_no String, psn Tuple(gend Nullable(String), brdy String, certno String, psn_name String), diagnoses ${DIAGS}`)}
      FROM {db}.ingest WHERE event_type = 'visit.opened')`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ingest_discharges_mv TO {db}.discharges AS
    SELECT ${P('mdtrt_id')} AS mdtrt_id, psn_no, ${ENV}, ${tm(P('endtime'))} AS endtime, ${P('dscg_way')} AS dscg_way,
      ${P('dscg_maindiag_code')} AS dscg_maindiag_code, ${P('diagnoses')} AS diagnoses, ${P('operations')} AS operations, event_id, ${EVENT_TIME}
    FROM (SELECT event_id, psn_no, ${head(`mdtrt_id String, endtime String, dscg_way String, dscg_maindiag_code String, diagnoses ${DIAGS},
      operations Array(Tuple(oprn_oprt_code String, oprn_oprt_date String))`)}
      FROM {db}.ingest WHERE event_type = 'visit.closed')`,
  // One row per line. chrg_bchno is a pass-through field the state takes only
  // as a non-empty string (src/state/apply.ts chrgBchno): read as such, apart.
  `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ingest_fee_lines_mv TO {db}.fee_lines AS
    SELECT psn_no, ${P('mdtrt_id')} AS mdtrt_id, l.feedetl_sn AS feedetl_sn, ${ENV}, ${tm('l.fee_ocur_time')} AS fee_ocur_time,
      l.med_list_codg AS med_list_codg, l.medins_list_codg AS medins_list_codg, l.list_type AS list_type, l.med_chrgitm_type AS med_chrgitm_type,
      l.cnt AS cnt, l.pric AS pric, l.det_item_fee_sumamt AS det_item_fee_sumamt, l.bilg_dept_codg AS bilg_dept_codg, l.bilg_dr_codg AS bilg_dr_codg,
      l.prd_days AS prd_days, l.hours AS hours, chrg AS chrg_bchno, event_id, ${EVENT_TIME}
    FROM (SELECT event_id, psn_no, ${head(`mdtrt_id String, lines Array(Tuple(feedetl_sn String, fee_ocur_time String, med_list_codg String,
      medins_list_codg String, list_type String, med_chrgitm_type String, cnt Decimal(18, 4), pric Decimal(18, 6), det_item_fee_sumamt Decimal(18, 2),
      bilg_dept_codg String, bilg_dr_codg String, prd_days Nullable(UInt16), hours Nullable(Decimal(18, 4))))`)},
      arrayMap(x -> if(JSONType(x, 'chrg_bchno') = 'String', JSONExtractString(x, 'chrg_bchno'), ''), JSONExtractArrayRaw(${D}, 'payload', 'lines')) AS chrgs
      FROM {db}.ingest WHERE event_type = 'fee.uploaded')
    ARRAY JOIN ${P('lines')} AS l, chrgs AS chrg`,
  // The lines as admission resolved them (a charge batch names none in the bytes).
  `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ingest_fee_reversals_mv TO {db}.fee_reversals AS
    SELECT psn_no, ${P('mdtrt_id')} AS mdtrt_id, feedetl_sn, ${ENV}, event_id, ${EVENT_TIME}
    FROM (SELECT event_id, psn_no, feedetl_sns, ${head('mdtrt_id String')} FROM {db}.ingest WHERE event_type = 'fee.reversed')
    ARRAY JOIN feedetl_sns AS feedetl_sn`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ingest_settlements_mv TO {db}.settlements AS
    SELECT ${P('setl_id')} AS setl_id, ${P('mdtrt_id')} AS mdtrt_id, psn_no, ${ENV}, ${tm(P('setl_time'))} AS setl_time,
      ${P('med_type')} AS med_type, ${P('insutype')} AS insutype, ${P('medfee_sumamt')} AS medfee_sumamt, ${P('fulamt_ownpay_amt')} AS fulamt_ownpay_amt,
      ${P('inscp_scp_amt')} AS inscp_scp_amt, ${P('hifp_pay')} AS hifp_pay, ${P('fund_pay_sumamt')} AS fund_pay_sumamt, ${P('acct_pay')} AS acct_pay,
      ${P('psn_cash_pay')} AS psn_cash_pay, ${P('hosp_part_amt')} AS hosp_part_amt, ${P('pay_grp.type')} AS pay_grp_type,
      ${P('pay_grp.code')} AS pay_grp_code, ${P('pay_grp.weight')} AS pay_grp_weight, event_id, ${EVENT_TIME}
    FROM (SELECT event_id, psn_no, ${head(`setl_id String, mdtrt_id String, setl_time String, med_type String, insutype String,
      medfee_sumamt Decimal(18, 2), fulamt_ownpay_amt Decimal(18, 2), inscp_scp_amt Decimal(18, 2), hifp_pay Decimal(18, 2),
      fund_pay_sumamt Decimal(18, 2), acct_pay Decimal(18, 2), psn_cash_pay Decimal(18, 2), hosp_part_amt Decimal(18, 2),
      pay_grp Tuple(type String, code String, weight Decimal(9, 4))`)}
      FROM {db}.ingest WHERE event_type = 'settlement.completed')`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ingest_settlement_reversals_mv TO {db}.settlement_reversals AS
    SELECT psn_no, ${P('setl_id')} AS setl_id, ${P('mdtrt_id')} AS mdtrt_id, ${ENV}, event_id, ${EVENT_TIME}
    FROM (SELECT event_id, psn_no, ${head('setl_id String, mdtrt_id String')} FROM {db}.ingest WHERE event_type = 'settlement.reversed')`,
  // A field not given stays '' (the codes cannot be empty) or has_diagnoses 0: the loader applies only what was given.
  `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ingest_visit_updates_mv TO {db}.visit_updates AS
    SELECT psn_no, ${P('mdtrt_id')} AS mdtrt_id, ${ENV}, ${P('med_type')} AS med_type, ${P('adm_dept_codg')} AS adm_dept_codg,
      ${P('atddr_no')} AS atddr_no, has_diagnoses, ${P('diagnoses')} AS diagnoses, event_id, ${EVENT_TIME}
    FROM (SELECT event_id, psn_no, toUInt8(JSONHas(${D}, 'payload', 'diagnoses')) AS has_diagnoses,
      ${head(`mdtrt_id String, med_type String, adm_dept_codg String, atddr_no String, diagnoses ${DIAGS}`)}
      FROM {db}.ingest WHERE event_type = 'visit.updated')`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ingest_visit_cancellations_mv TO {db}.visit_cancellations AS
    SELECT psn_no, ${P('mdtrt_id')} AS mdtrt_id, ${ENV}, ${P('cancels')} AS cancels, event_id, ${EVENT_TIME}
    FROM (SELECT event_id, psn_no, ${head('mdtrt_id String, cancels String')} FROM {db}.ingest WHERE event_type = 'visit.cancelled')`,
  // The institution of a movement is the payload's (a pharmacy's stock), not the sender's.
  `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ingest_inventory_movements_mv TO {db}.inventory_movements AS
    SELECT ${P('fixmedins_code')} AS fixmedins_code, ${P('med_list_codg')} AS med_list_codg, ${P('kind')} AS kind, ${P('cnt')} AS cnt,
      ${tm(P('movement_time'))} AS movement_time, ${P('batch_no')} AS batch_no, ${P('mdtrt_id')} AS mdtrt_id, ${P('setl_id')} AS setl_id, event_id
    FROM (SELECT event_id, ${head(`fixmedins_code String, med_list_codg String, kind String, cnt Decimal(18, 4), movement_time String,
      batch_no String, mdtrt_id String, setl_id String`)} FROM {db}.ingest WHERE event_type = 'inventory.movement')`,
]

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'events, claims, alerts, dead letters',
    statements: [
      `CREATE TABLE IF NOT EXISTS {db}.events (
        event_id String, event_type LowCardinality(String), event_time ${T},
        fixmedins_code LowCardinality(String), psn_no String, mdtrt_id String,
        source_pos String, ingested_at ${T}, raw String CODEC(ZSTD(3))
      ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(event_time) ORDER BY (fixmedins_code, event_id)`,
      `CREATE TABLE IF NOT EXISTS {db}.visits (
        mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), med_type LowCardinality(String),
        insutype LowCardinality(String), begntime ${T}, insuplc_admdvs LowCardinality(String), ipt_otp_no String,
        adm_dept_codg LowCardinality(String), atddr_no String, gend LowCardinality(String), brdy String,
        certno String, psn_name String, diagnoses ${DIAGS}, event_id String, event_time ${T},
        INDEX ix_inst fixmedins_code TYPE set(1000) GRANULARITY 4
      ) ENGINE = ReplacingMergeTree(event_time) PARTITION BY toYYYYMM(begntime) ORDER BY (psn_no, mdtrt_id) ${POINT_SETTINGS}`,
      `CREATE TABLE IF NOT EXISTS {db}.discharges (
        mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), endtime ${T},
        dscg_way LowCardinality(String), dscg_maindiag_code String, diagnoses ${DIAGS},
        operations Array(Tuple(oprn_oprt_code String, oprn_oprt_date String)), event_id String, event_time ${T}
      ) ENGINE = ReplacingMergeTree(event_time) PARTITION BY toYYYYMM(endtime) ORDER BY (psn_no, mdtrt_id) ${POINT_SETTINGS}`,
      `CREATE TABLE IF NOT EXISTS {db}.fee_lines (
        psn_no String, mdtrt_id String, feedetl_sn String, fixmedins_code LowCardinality(String), fee_ocur_time ${T},
        med_list_codg LowCardinality(String), medins_list_codg String, list_type LowCardinality(String),
        med_chrgitm_type LowCardinality(String), cnt Decimal(18, 4), pric Decimal(18, 2), det_item_fee_sumamt Decimal(18, 2),
        bilg_dept_codg LowCardinality(String), bilg_dr_codg String, prd_days Nullable(UInt16), hours Nullable(Decimal(18, 4)),
        event_id String, event_time ${T},
        INDEX ix_inst fixmedins_code TYPE set(1000) GRANULARITY 4,
        INDEX ix_visit mdtrt_id TYPE bloom_filter GRANULARITY 4
      ) ENGINE = ReplacingMergeTree(event_time) PARTITION BY toYYYYMM(fee_ocur_time) ORDER BY (psn_no, mdtrt_id, feedetl_sn) ${POINT_SETTINGS}`,
      `CREATE TABLE IF NOT EXISTS {db}.fee_reversals (
        psn_no String, mdtrt_id String, feedetl_sn String, fixmedins_code LowCardinality(String), event_id String, event_time ${T}
      ) ENGINE = ReplacingMergeTree PARTITION BY tuple() ORDER BY (mdtrt_id, feedetl_sn)`,
      `CREATE TABLE IF NOT EXISTS {db}.settlements (
        setl_id String, mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), setl_time ${T},
        med_type LowCardinality(String), insutype LowCardinality(String),
        medfee_sumamt Decimal(18, 2), fulamt_ownpay_amt Decimal(18, 2), inscp_scp_amt Decimal(18, 2), hifp_pay Decimal(18, 2),
        fund_pay_sumamt Decimal(18, 2), acct_pay Decimal(18, 2), psn_cash_pay Decimal(18, 2),
        pay_grp_type LowCardinality(String), pay_grp_code String, pay_grp_weight Decimal(9, 4),
        event_id String, event_time ${T},
        INDEX ix_inst fixmedins_code TYPE set(1000) GRANULARITY 4
      ) ENGINE = ReplacingMergeTree(event_time) PARTITION BY toYYYYMM(setl_time) ORDER BY (psn_no, setl_id) ${POINT_SETTINGS}`,
      `CREATE TABLE IF NOT EXISTS {db}.settlement_reversals (
        psn_no String, setl_id String, mdtrt_id String, fixmedins_code LowCardinality(String), event_id String, event_time ${T}
      ) ENGINE = ReplacingMergeTree PARTITION BY tuple() ORDER BY (setl_id)`,
      `CREATE TABLE IF NOT EXISTS {db}.inventory_movements (
        fixmedins_code LowCardinality(String), med_list_codg LowCardinality(String), kind LowCardinality(String),
        cnt Decimal(18, 4), movement_time ${T}, batch_no String, mdtrt_id String, setl_id String, event_id String
      ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(movement_time) ORDER BY (fixmedins_code, med_list_codg, event_id)`,
      // alert_id is deterministic from the detector and the facts, and event_time
      // is the triggering event's, so a replay rewrites the same row into the
      // same partition. A finding refined by a later event (an amount known only
      // at settlement) has a later event_time and wins the merge.
      `CREATE TABLE IF NOT EXISTS {db}.alerts (
        alert_id String, detector_id LowCardinality(String), detector_version LowCardinality(String), params_hash LowCardinality(String),
        result LowCardinality(String), severity LowCardinality(String), stage LowCardinality(String),
        fixmedins_code LowCardinality(String), admdvs LowCardinality(String), psn_no String, doctor String, mdtrt_id String, setl_id String,
        mdtrt_ids Array(String), feedetl_sns Array(String), setl_ids Array(String), event_ids Array(String),
        amount_at_risk Decimal(18, 2), title_zh String, title_en String, message_zh String, message_en String,
        evidence String, basis_zh String, basis_en String, event_time ${T}, detected_at ${T},
        INDEX ix_detected detected_at TYPE minmax GRANULARITY 1
      ) ENGINE = ReplacingMergeTree(event_time) PARTITION BY toYYYYMM(event_time) ORDER BY (alert_id)`,
      `CREATE TABLE IF NOT EXISTS {db}.dead_letters (
        dlq_id String, reason LowCardinality(String), detail String, source String, received_at ${T}, raw_base64 String CODEC(ZSTD(3))
      ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(received_at) ORDER BY (dlq_id)`,
    ],
  },
  {
    version: 2,
    name: 'review workflow, cases, access control',
    statements: [
      // Users and their tokens. Only the SHA-256 of a token is stored; a revoke
      // writes a higher version of the same row.
      `CREATE TABLE IF NOT EXISTS {db}.users (
        user_id String, name String, role LowCardinality(String), admdvs Array(String), fixmedins_codes Array(String),
        token_sha256 String, created_at ${T}, created_by String, revoked_at Nullable(${T}), version UInt32
      ) ENGINE = ReplacingMergeTree(version) ORDER BY user_id`,
      // The review record: one row per accepted transition or assignment,
      // carrying the whole state after it. The insert deduplication token is
      // (alert_id, version), so of two writers that both based a change on the
      // same version only the first insert lands — optimistic concurrency that
      // holds across API replicas; the loser reads back someone else's action_id
      // and answers 409. The window must outlast any plausible race.
      `CREATE TABLE IF NOT EXISTS {db}.alert_actions (
        action_id String, alert_id String, version UInt32, kind LowCardinality(String),
        from_status LowCardinality(String), status LowCardinality(String), reason String,
        assignee String, entered_at ${T}, due_at Nullable(${T}),
        recovered_amount Decimal(18, 2), penalty_amount Decimal(18, 2), measures String, dismiss_reason String,
        detector_id LowCardinality(String), fixmedins_code LowCardinality(String), admdvs LowCardinality(String), amount_at_risk Decimal(18, 2),
        by_user String, by_name String, role LowCardinality(String), at ${T}
      ) ENGINE = MergeTree PARTITION BY toYYYYMM(at) ORDER BY (alert_id, version)
      SETTINGS non_replicated_deduplication_window = 100000`,
      // Latest workflow state per alert, kept apart from the immutable alerts
      // table so a replayed alert never resets its review. Fed by the view
      // below. A view receives a block even when the source deduplicated it, so
      // writers also set deduplicate_blocks_in_dependent_materialized_views and
      // this table keeps a deduplication window of its own: the loser of a race
      // is dropped here too (ReviewService.write verifies and repairs).
      `CREATE TABLE IF NOT EXISTS {db}.alert_status (
        alert_id String, status LowCardinality(String), assignee String, entered_at ${T}, due_at Nullable(${T}),
        recovered_amount Decimal(18, 2), penalty_amount Decimal(18, 2), measures String, dismiss_reason String,
        detector_id LowCardinality(String), fixmedins_code LowCardinality(String), admdvs LowCardinality(String), amount_at_risk Decimal(18, 2),
        updated_by String, updated_at ${T}, action_id String, version UInt32
      ) ENGINE = ReplacingMergeTree(version) ORDER BY alert_id
      SETTINGS non_replicated_deduplication_window = 100000`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.alert_status_mv TO {db}.alert_status AS
        SELECT alert_id, status, assignee, entered_at, due_at, recovered_amount, penalty_amount, measures, dismiss_reason,
          detector_id, fixmedins_code, admdvs, amount_at_risk, by_user AS updated_by, at AS updated_at, action_id, version
        FROM {db}.alert_actions`,
      // Cases follow the same pattern: append-only actions with the state after
      // each, deduplicated on (case_id, version); the cases table is the latest.
      `CREATE TABLE IF NOT EXISTS {db}.case_actions (
        action_id String, case_id String, version UInt32, what LowCardinality(String), detail String,
        title String, subject_kind LowCardinality(String), subject_fixmedins_code String, subject_doctor String, subject_psn_no String,
        status LowCardinality(String), alert_ids Array(String), fixmedins_codes Array(String), admdvs Array(String),
        assignee String, note String, created_by String, created_at ${T},
        by_user String, by_name String, role LowCardinality(String), at ${T}
      ) ENGINE = MergeTree PARTITION BY toYYYYMM(at) ORDER BY (case_id, version)
      SETTINGS non_replicated_deduplication_window = 100000`,
      `CREATE TABLE IF NOT EXISTS {db}.cases (
        case_id String, title String, subject_kind LowCardinality(String), subject_fixmedins_code String, subject_doctor String, subject_psn_no String,
        status LowCardinality(String), alert_ids Array(String), fixmedins_codes Array(String), admdvs Array(String),
        assignee String, note String, created_by String, created_at ${T}, updated_by String, updated_at ${T}, action_id String, version UInt32
      ) ENGINE = ReplacingMergeTree(version) ORDER BY case_id
      SETTINGS non_replicated_deduplication_window = 100000`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.cases_mv TO {db}.cases AS
        SELECT case_id, title, subject_kind, subject_fixmedins_code, subject_doctor, subject_psn_no, status, alert_ids, fixmedins_codes, admdvs,
          assignee, note, created_by, created_at, by_user AS updated_by, at AS updated_at, action_id, version
        FROM {db}.case_actions`,
      // Who looked at or exported evidence, when, and why. Append-only.
      `CREATE TABLE IF NOT EXISTS {db}.evidence_access_log (
        access_id String, at ${T}, user_id String, user_name String, role LowCardinality(String),
        action LowCardinality(String), object_type LowCardinality(String), object_id String, purpose String, revealed Bool
      ) ENGINE = MergeTree PARTITION BY toYYYYMM(at) ORDER BY (at, access_id)`,
    ],
  },
  {
    version: 3,
    name: 'rule-base change record',
    statements: [
      // Every accepted rule-base change, whole: who, when, the text, and the
      // detector@params_hash it produced (alerts carry the same hashes).
      `CREATE TABLE IF NOT EXISTS {db}.rulebase_changes (
        hash String, at DateTime64(3, 'UTC'), by String, source String, text String CODEC(ZSTD(3)), detectors Array(String)
      ) ENGINE = MergeTree PARTITION BY toYYYYMM(at) ORDER BY (at, hash)`,
    ],
  },
  {
    version: 4,
    name: 'admission: event and visit indexes, data quality',
    statements: [
      // What admission (src/pipeline/admit.ts) asks the store once per batch.
      // Both indexes are fed by views from the events table — the source of
      // truth — and keyed for point lookups; events itself is keyed for the
      // screens (institution first), where a lookup by event_id alone would
      // scan. Their rows carry only what identifies, never a copy of the event.
      //
      // event_index: every distinct content ever stored under an event_id, as
      // the SHA-256 of the bytes received (stored raw = bytes received), with
      // when it first arrived. Admission keeps one content per id, so normally
      // one row per id; the first by time is the one that stands.
      `CREATE TABLE IF NOT EXISTS {db}.event_index (
        event_id String, content_sha256 String, first_ingested SimpleAggregateFunction(min, ${T})
      ) ENGINE = AggregatingMergeTree PARTITION BY tuple() ORDER BY (event_id, content_sha256) ${POINT_SETTINGS}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_index_mv TO {db}.event_index AS
        SELECT event_id, lower(hex(SHA256(raw))) AS content_sha256, ingested_at AS first_ingested FROM {db}.events`,
      // visit_index: who each visit belongs to — the person and the institution
      // of the first event that established it (opened, lines, discharge,
      // settlement; a reversal establishes nothing). Across persons, so a visit
      // id reused under another psn_no is found too.
      `CREATE TABLE IF NOT EXISTS {db}.visit_index (
        mdtrt_id String, psn_no String, fixmedins_code LowCardinality(String), first_seen SimpleAggregateFunction(min, ${T})
      ) ENGINE = AggregatingMergeTree PARTITION BY tuple() ORDER BY (mdtrt_id, psn_no, fixmedins_code) ${POINT_SETTINGS}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.visit_index_mv TO {db}.visit_index AS
        SELECT mdtrt_id, psn_no, fixmedins_code, event_time AS first_seen FROM {db}.events
        WHERE mdtrt_id != '' AND event_type IN ('visit.opened', 'fee.uploaded', 'visit.closed', 'settlement.completed')`,
      // History stored before this migration. The views exist first, so an
      // event stored meanwhile lands in the index twice at worst — aggregated
      // away — and never not at all; a re-run after a crash does the same.
      `INSERT INTO {db}.event_index SELECT event_id, lower(hex(SHA256(raw))), ingested_at FROM {db}.events`,
      `INSERT INTO {db}.visit_index SELECT mdtrt_id, psn_no, fixmedins_code, event_time FROM {db}.events
        WHERE mdtrt_id != '' AND event_type IN ('visit.opened', 'fee.uploaded', 'visit.closed', 'settlement.completed')`,
      // Events stored as sent but flagged: they name facts fundwatch has never
      // seen (a reversal of an unknown line …). One row per (reason, event),
      // deterministic id, so a replay rewrites the same row.
      `CREATE TABLE IF NOT EXISTS {db}.data_quality (
        dq_id String, reason LowCardinality(String), detail String,
        event_id String, event_type LowCardinality(String), fixmedins_code LowCardinality(String), psn_no String, mdtrt_id String,
        refs Array(String), event_time ${T}, detected_at ${T}
      ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(event_time) ORDER BY (fixmedins_code, reason, dq_id)`,
    ],
  },
  {
    version: 5,
    name: 'money as the national interface bounds it; sums that cannot overflow',
    statements: [
      // Unit prices carry 6 decimals (N(16,6)); they were cut to 2.
      `ALTER TABLE {db}.fee_lines MODIFY COLUMN pric Decimal(18, 6)`,
      // The settlement identity names the institution's share (hosp_part_amt).
      `ALTER TABLE {db}.settlements ADD COLUMN IF NOT EXISTS hosp_part_amt Decimal(18, 2) DEFAULT 0 AFTER psn_cash_pay`,
      // An alert's amount at risk is a sum of amounts, each up to 14 digits: a
      // Decimal(38, 2) holds any sum the pipeline can produce, exactly.
      `ALTER TABLE {db}.alerts MODIFY COLUMN amount_at_risk Decimal(38, 2)`,
      `ALTER TABLE {db}.alert_actions MODIFY COLUMN amount_at_risk Decimal(38, 2)`,
      `ALTER TABLE {db}.alert_status MODIFY COLUMN amount_at_risk Decimal(38, 2)`,
    ],
  },
  {
    version: 6,
    name: 'detector errors',
    statements: [
      // A detector skipped for one event (it threw, or ran over its time
      // budget): the gap in checking is on record, by event, for an operator to
      // see and replay. Keyed by the event and the detector, partitioned by the
      // event's time, so a replay rewrites the same row.
      `CREATE TABLE IF NOT EXISTS {db}.detector_errors (
        event_id String, event_type LowCardinality(String), event_time ${T}, fixmedins_code LowCardinality(String),
        detector_id LowCardinality(String), detector_version LowCardinality(String), kind LowCardinality(String),
        detail String, elapsed_ms Float64, recorded_at ${T}
      ) ENGINE = ReplacingMergeTree(recorded_at) PARTITION BY toYYYYMM(event_time) ORDER BY (fixmedins_code, event_id, detector_id)`,
    ],
  },
  {
    version: 7,
    name: 'alert revisions',
    statements: [
      // Alerts follow the facts (docs/review.md, "Withdrawn and updated
      // alerts"): a later reversal, discharge or settlement makes a new
      // revision of the same alert_id — updated, or withdrawn with its reason
      // and the event that caused it. Revisions keep the alert's event_time
      // (so its partition) and are written in order: the merge keeps the last
      // one, and readers pick the highest revision explicitly
      // (src/store/alerts.ts latestOf). Rows from before get revision 1, active.
      `ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS revision UInt32 DEFAULT 1`,
      `ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS status LowCardinality(String) DEFAULT 'active'`,
      `ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS withdrawn_reason LowCardinality(String) DEFAULT ''`,
      `ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS revised_at ${T} DEFAULT detected_at`,
      `ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS revision_event_id String DEFAULT ''`,
      // A person's alerts are loaded with the person's history (src/state/cache.ts):
      // without an index on psn_no that read would scan the table, sorted by alert_id.
      `ALTER TABLE {db}.alerts ADD INDEX IF NOT EXISTS ix_psn psn_no TYPE bloom_filter(0.01) GRANULARITY 1`,
      `ALTER TABLE {db}.alerts MATERIALIZE INDEX ix_psn`,
      // The alerts table keeps the latest revision; every revision, the
      // previous ones included, stays here (a replay rewrites the same row).
      `CREATE TABLE IF NOT EXISTS {db}.alert_revisions (
        alert_id String, revision UInt32, status LowCardinality(String), withdrawn_reason LowCardinality(String),
        revision_event_id String, revised_at ${T}, detector_id LowCardinality(String), detector_version LowCardinality(String),
        fixmedins_code LowCardinality(String), admdvs LowCardinality(String), amount_at_risk Decimal(38, 2),
        feedetl_sns Array(String), setl_ids Array(String), message_zh String, message_en String, evidence String, event_time ${T}
      ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(event_time) ORDER BY (alert_id, revision)`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.alert_revisions_mv TO {db}.alert_revisions AS
        SELECT alert_id, revision, status, withdrawn_reason, revision_event_id, revised_at, detector_id, detector_version,
          fixmedins_code, admdvs, amount_at_risk, feedetl_sns, setl_ids, message_zh, message_en, evidence, event_time FROM {db}.alerts`,
      `INSERT INTO {db}.alert_revisions SELECT alert_id, revision, status, withdrawn_reason, revision_event_id, revised_at, detector_id, detector_version,
          fixmedins_code, admdvs, amount_at_risk, feedetl_sns, setl_ids, message_zh, message_en, evidence, event_time FROM {db}.alerts`,
    ],
  },
  {
    version: 8,
    name: 'reversals found by person',
    statements: [
      // A state load asks for a batch's persons' reversals by psn_no, which is
      // not in these tables' sorting keys (the keys are the reversal's identity,
      // for deduplication): a full scan per batch. A projection sorted by
      // psn_no answers it from a few granules. Reads that use it must not say
      // FINAL (a projection is never used with FINAL): set lookups, where a
      // duplicate row before a merge changes nothing. A ReplacingMergeTree
      // accepts a projection only when told what a merge does with it:
      // rebuild it from the merged rows.
      `ALTER TABLE {db}.fee_reversals MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild'`,
      `ALTER TABLE {db}.fee_reversals ADD PROJECTION IF NOT EXISTS by_psn (SELECT * ORDER BY psn_no)`,
      `ALTER TABLE {db}.fee_reversals MATERIALIZE PROJECTION by_psn`,
      `ALTER TABLE {db}.settlement_reversals MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild'`,
      `ALTER TABLE {db}.settlement_reversals ADD PROJECTION IF NOT EXISTS by_psn (SELECT * ORDER BY psn_no)`,
      `ALTER TABLE {db}.settlement_reversals MATERIALIZE PROJECTION by_psn`,
    ],
  },
  {
    version: 9,
    name: 'visit updates and cancellations; the charge batch of fee lines',
    statements: [
      // visit.updated (national 2203/2403): one row per event, applied on top
      // of the visit in event_time order when a person's state is loaded
      // (src/state/cache.ts). A code not given is '' (no code is empty);
      // has_diagnoses says whether the list was given (an empty list given
      // empties the visit's). Keyed by the event, so a replay rewrites the row.
      `CREATE TABLE IF NOT EXISTS {db}.visit_updates (
        psn_no String, mdtrt_id String, fixmedins_code LowCardinality(String), med_type LowCardinality(String),
        adm_dept_codg LowCardinality(String), atddr_no String, has_diagnoses UInt8, diagnoses ${DIAGS}, event_id String, event_time ${T}
      ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(event_time) ORDER BY (psn_no, mdtrt_id, event_id) ${POINT_SETTINGS}`,
      // visit.cancelled (national 2202/2404 'visit', 2405 'discharge'), likewise.
      `CREATE TABLE IF NOT EXISTS {db}.visit_cancellations (
        psn_no String, mdtrt_id String, fixmedins_code LowCardinality(String), cancels LowCardinality(String), event_id String, event_time ${T}
      ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(event_time) ORDER BY (psn_no, mdtrt_id, event_id) ${POINT_SETTINGS}`,
      // The 收费批次号 a line was uploaded in: what a reversal by batch (national 2205) names. '' for lines without one.
      `ALTER TABLE {db}.fee_lines ADD COLUMN IF NOT EXISTS chrg_bchno String DEFAULT ''`,
    ],
  },
  {
    version: 10,
    name: 'national 3103 feedback',
    statements: [
      // The pre-check findings fundwatch answered, per institution it answered
      // them to (POST /api/v1/precheck and the national 3101/3102): what lets a
      // 3103 name a finding before its 事中 alert exists, and only the
      // institution that was told of it. Identifiers only — the draft itself is
      // still not stored. Answered again (every order re-runs 3101): the same row,
      // with the latest answer time.
      `CREATE TABLE IF NOT EXISTS {db}.precheck_findings (
        alert_id String, fixmedins_code LowCardinality(String), admdvs LowCardinality(String),
        detector_id LowCardinality(String), detector_version LowCardinality(String), answered_at ${T}
      ) ENGINE = ReplacingMergeTree PARTITION BY tuple() ORDER BY (alert_id, fixmedins_code)`,
      // The institutions' 3103 answers (docs/national-feedback.md): one row per
      // warning answered, keyed by a deterministic id (institution, msgid,
      // warn_rslt_id), written with that id as the insert deduplication token so
      // a re-sent message keeps its first receipt. Stored by alert_id whether or
      // not the alert exists yet (against = finding): the alert's page reads
      // them by its id, so feedback given before the 事中 alert shows once it arrives.
      `CREATE TABLE IF NOT EXISTS {db}.national_feedback (
        feedback_id String, alert_id String, fixmedins_code LowCardinality(String), admdvs LowCardinality(String),
        detector_id LowCardinality(String), against LowCardinality(String), warn_type LowCardinality(String),
        dspo_way LowCardinality(String), dspo_way_rea String, msgid String, opter_type LowCardinality(String),
        opter String, opter_name String, inf_time ${T}, received_at ${T}, by_user String
      ) ENGINE = ReplacingMergeTree PARTITION BY tuple() ORDER BY (alert_id, feedback_id)
      SETTINGS non_replicated_deduplication_window = 100000`,
    ],
  },
  {
    version: 11,
    name: 'versioned rule base: reason and parent of each change',
    statements: [
      // rulebase_changes becomes the source of truth of the rule base
      // (src/detect/rulebase-store.ts): the latest row by (at, hash) is in
      // force on every processor and API replica. Each change says why
      // (required through the API and the CLI; '' on rows written before) and
      // which version it replaced (parent: the hash in force on the process
      // that wrote it; '' when none was recorded).
      `ALTER TABLE {db}.rulebase_changes ADD COLUMN IF NOT EXISTS reason String DEFAULT ''`,
      `ALTER TABLE {db}.rulebase_changes ADD COLUMN IF NOT EXISTS parent String DEFAULT ''`,
    ],
  },
  {
    version: 12,
    name: 'shadow alerts',
    statements: [
      // Alerts of detectors in shadow mode (docs/review.md "Shadow rules"):
      // the same document, the same ids and revisions a live run would give,
      // in a table of their own, so nothing that reads `alerts` (the feed,
      // counts, cases, evidence, risk views, 3101/3102, the live feed) can
      // ever see one. The pipeline routes each alert row here or there when it
      // writes it (src/pipeline/pipeline.ts); promotion copies the latest
      // revisions into `alerts` (src/detect/shadow.ts).
      // SAME COLUMNS AS `alerts` AFTER EVERY MIGRATION (1, 5, 7 …): a later
      // migration that alters `alerts` must alter `shadow_alerts` the same way
      // (the promotion is an INSERT … SELECT * between them; the migrations
      // test compares the two tables' columns).
      `CREATE TABLE IF NOT EXISTS {db}.shadow_alerts (
        alert_id String, detector_id LowCardinality(String), detector_version LowCardinality(String), params_hash LowCardinality(String),
        result LowCardinality(String), severity LowCardinality(String), stage LowCardinality(String),
        fixmedins_code LowCardinality(String), admdvs LowCardinality(String), psn_no String, doctor String, mdtrt_id String, setl_id String,
        mdtrt_ids Array(String), feedetl_sns Array(String), setl_ids Array(String), event_ids Array(String),
        amount_at_risk Decimal(38, 2), title_zh String, title_en String, message_zh String, message_en String,
        evidence String, basis_zh String, basis_en String, event_time ${T}, detected_at ${T},
        revision UInt32 DEFAULT 1, status LowCardinality(String) DEFAULT 'active', withdrawn_reason LowCardinality(String) DEFAULT '',
        revised_at ${T} DEFAULT detected_at, revision_event_id String DEFAULT '',
        INDEX ix_detected detected_at TYPE minmax GRANULARITY 1,
        INDEX ix_psn psn_no TYPE bloom_filter(0.01) GRANULARITY 1
      ) ENGINE = ReplacingMergeTree(event_time) PARTITION BY toYYYYMM(event_time) ORDER BY (alert_id)`,
    ],
  },
  {
    version: 13,
    name: 'backtest runs',
    statements: [
      // Finished rule backtests (src/backtest/jobs.ts): who ran which candidate
      // against which rule base over which window, and what it found (the
      // result JSON, as the API answers it). Any API replica shows them; the
      // one running is known only to its process until it finishes.
      `CREATE TABLE IF NOT EXISTS {db}.backtest_runs (
        job_id String, status LowCardinality(String), by String, window_from ${T}, window_to ${T},
        baseline_hash String, candidate_hash String, events_done UInt64, events_total UInt64,
        started_at ${T}, finished_at ${T}, error String, result String CODEC(ZSTD(3))
      ) ENGINE = ReplacingMergeTree(finished_at) PARTITION BY tuple() ORDER BY job_id`,
    ],
  },
  {
    version: 14,
    name: 'ingest: the bytes received in, views build events and the typed tables',
    statements: [
      // The pipeline writes each admitted event once, as the bytes it received
      // (src/store/rows.ts ingestLine), into this Null table: it keeps nothing,
      // and the views below build `events` and every typed table from each
      // block inserted. Next to the bytes goes only what admission knows and
      // SQL cannot derive: the person (resolved from the visit owner for a
      // reversal that names none), the lines a reversal withdraws (resolved
      // from a charge batch), and `doc`, the contract event as JSON when the
      // bytes are not it (a national transaction); '' when they are.
      `CREATE TABLE IF NOT EXISTS {db}.ingest (
        ${INGEST_COLUMNS}
      ) ENGINE = Null`,
      ...INGEST_VIEWS,
    ],
  },
  {
    version: 15,
    name: 'tables read a few rows at a time in small granules',
    // Created so from version 15 on (the statements above); a store made before is rebuilt.
    statements: [],
    rebuild: {
      tables: ['visits', 'discharges', 'fee_lines', 'settlements', 'visit_updates', 'visit_cancellations', 'event_index', 'visit_index'],
      granularity: POINT_GRANULARITY,
    },
  },
]

/**
 * The migrator's own tables, created before the lock is taken (idempotent).
 * schema_migrations_lock: src/store/lock.ts. retention_applied: the TTL days
 * last applied per rule, so a run issues a TTL change only when they change.
 */
export const BOOTSTRAP: string[] = [
  `CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, name String, applied_at ${T}) ENGINE = ReplacingMergeTree ORDER BY version`,
  `CREATE TABLE IF NOT EXISTS {db}.schema_migrations_lock (
    generation UInt64, kind LowCardinality(String), holder String, at ${T}, expires_at ${T}
  ) ENGINE = MergeTree ORDER BY (generation, kind)
  SETTINGS non_replicated_deduplication_window = 10000`,
  `CREATE TABLE IF NOT EXISTS {db}.retention_applied (rule String, days UInt32, applied_at ${T}) ENGINE = ReplacingMergeTree(applied_at) ORDER BY rule`,
]

/** A migration statement as this store runs it: as written on one node, rewritten for the cluster on a cluster. */
export function statementsFor(store: Pick<Store, 'db' | 'cluster'>, sql: string): string[] {
  return store.cluster ? clusterStatements(sql, store.db, store.cluster) : [sql.replaceAll('{db}', store.db)]
}

export interface MigrateOptions {
  /** TTL days per rule (config.retention); defaults as documented in docs/clickhouse.md#retention. */
  retention?: Retention
  lock?: LockOptions
}

/**
 * Brings the schema to the newest version and the retention TTLs to the
 * configured days, under the migration lock: a second migrator started
 * meanwhile (every role migrates at start; a rollout starts several) waits,
 * then finds nothing left to do.
 */
export async function migrate(store: Store, migrations: Migration[] = MIGRATIONS, opts: MigrateOptions = {}): Promise<{ applied: number[]; current: number; retention: string[]; rebuilt: string[]; notRebuilt: string[] }> {
  if (store.cluster) await store.command(`CREATE DATABASE IF NOT EXISTS ${store.db} ON CLUSTER '${store.cluster}'`)
  for (const sql of BOOTSTRAP) for (const s of statementsFor(store, sql)) await store.command(s)
  const read = store.consistency.read
  return withMigrationLock(store, opts.lock ?? {}, async (lease) => {
    // Read under the lock: what a migrator that held it before us applied.
    const done = new Set((await store.query<{ version: number }>(`SELECT version FROM ${store.t('schema_migrations')} FINAL`, {}, read)).map((r) => Number(r.version)))
    const applied: number[] = []
    const rebuilt: string[] = []
    const notRebuilt: string[] = []
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue
      // Each statement is idempotent (IF NOT EXISTS), so a crash halfway through is
      // repaired by running the migration again; the version row is written last.
      for (const sql of m.statements) {
        for (const s of statementsFor(store, sql)) await store.command(s)
        await lease.renew()
      }
      for (const table of m.rebuild?.tables ?? []) {
        if (store.cluster) {
          // Replicated tables under Distributed ones: rebuilt by hand (docs/clickhouse.md), not by this migrator.
          if ((await granularityOf(store, localName(table))).granularity !== m.rebuild!.granularity) notRebuilt.push(table)
          continue
        }
        if (await rebuildTable(store, table, m.rebuild!.granularity, () => lease.renew())) rebuilt.push(table)
      }
      await store.insert('schema_migrations', [{ version: m.version, name: m.name, applied_at: now() }], store.consistency.write)
      applied.push(m.version)
    }
    const retention = await applyRetention(store, opts.retention ?? DEFAULT_RETENTION)
    return { applied, current: Math.max(0, ...migrations.map((m) => m.version)), retention, rebuilt, notRebuilt }
  })
}

interface TableInfo { engine_full: string; create_table_query: string }
async function tableInfo(store: Store, name: string): Promise<TableInfo | undefined> {
  return (await store.query<TableInfo>(`SELECT engine_full, create_table_query FROM system.tables WHERE database = {db:String} AND name = {name:String}`, { db: store.db, name }))[0]
}
const GRANULARITY = /\bindex_granularity = (\d+)/
async function granularityOf(store: Store, table: string): Promise<{ granularity: number; info: TableInfo }> {
  const info = await tableInfo(store, table)
  if (!info) throw new Error(`no table ${store.t(table)} to rebuild`)
  return { granularity: Number(GRANULARITY.exec(info.engine_full)?.[1] ?? 8192), info }
}

/** The materialized views that write into `table`, as system.tables shows them (CREATE … TO db.table (columns) AS …). */
async function viewsInto(store: Store, table: string): Promise<{ name: string; create_table_query: string }[]> {
  const views = await store.query<{ name: string; create_table_query: string }>(
    `SELECT name, create_table_query FROM system.tables WHERE database = {db:String} AND engine = 'MaterializedView' ORDER BY name`, { db: store.db })
  return views.filter((v) => v.create_table_query.startsWith(`CREATE MATERIALIZED VIEW ${store.t(v.name)} TO ${store.t(table)} `))
}

/**
 * Rebuilds one table with another index granularity, in place and online:
 * 1. a copy `<table>_rebuild` is made as the table stands now (columns added
 *    since, indexes, projections, TTLs), with the new granularity;
 * 2. every view that writes the table writes the copy too (`<view>_rebuild`),
 *    so whatever a processor stores meanwhile reaches both;
 * 3. the table's rows are copied, a partition at a time (the migration lock's
 *    lease renewed between them), skipping a partition a run that died later
 *    had copied whole;
 * 4. EXCHANGE TABLES swaps the two names at once. Readers and views name the
 *    table, so from then on they use the rebuilt one;
 * 5. the second views and the old rows, now under `<table>_rebuild`, are dropped.
 * A crash anywhere is repaired by running it again: until the swap every step
 * repeats harmlessly (rows copied twice collapse by their ids, as a replay's
 * do), the swap happens only while the table is not yet rebuilt, and the
 * steps after it are drops of what is left. Returns whether it swapped.
 */
export async function rebuildTable(store: Store, table: string, granularity: number, renew: () => Promise<void> = async () => undefined): Promise<boolean> {
  const next = `${table}_rebuild`
  const { granularity: now, info } = await granularityOf(store, table)
  const stale = now !== granularity
  if (stale) {
    const head = `CREATE TABLE ${store.t(table)} `
    if (!info.create_table_query.startsWith(head) || !GRANULARITY.test(info.create_table_query)) throw new Error(`cannot read the definition of ${store.t(table)} to rebuild it`)
    await store.command(info.create_table_query.replace(head, `CREATE TABLE IF NOT EXISTS ${store.t(next)} `).replace(GRANULARITY, `index_granularity = ${granularity}`))
    for (const v of await viewsInto(store, table)) {
      await store.command(v.create_table_query.replace(`CREATE MATERIALIZED VIEW ${store.t(v.name)} TO ${store.t(table)} `, `CREATE MATERIALIZED VIEW IF NOT EXISTS ${store.t(`${v.name}_rebuild`)} TO ${store.t(next)} `))
    }
    const partitions = await store.query<{ partition_id: string }>(
      `SELECT DISTINCT partition_id FROM system.parts WHERE database = {db:String} AND table = {table:String} AND active ORDER BY partition_id`, { db: store.db, table })
    for (const { partition_id } of partitions) {
      // Copied by a run that died later: as many rows there as here (both count what the views wrote since), so not again.
      const [{ done }] = await store.query<{ done: number }>(`SELECT (SELECT count() FROM ${store.t(table)} FINAL WHERE _partition_id = {p:String})
        <= (SELECT count() FROM ${store.t(next)} FINAL WHERE _partition_id = {p:String}) AS done`, { p: partition_id }) as [{ done: number }]
      if (Number(done)) continue
      await store.command(`INSERT INTO ${store.t(next)} SELECT * FROM ${store.t(table)} WHERE _partition_id = {p:String}`, { p: partition_id })
      await renew()
    }
    await store.command(`EXCHANGE TABLES ${store.t(table)} AND ${store.t(next)}`)
  }
  for (const v of await viewsInto(store, next)) await store.command(`DROP VIEW IF EXISTS ${store.t(v.name)}`)
  await store.command(`DROP TABLE IF EXISTS ${store.t(next)}`)
  return stale
}

/** Sets each retention rule's TTL where the configured days differ from those last applied; returns the rules changed. */
async function applyRetention(store: Store, retention: Retention): Promise<string[]> {
  const last = new Map((await store.query<{ rule: string; days: number }>(
    `SELECT rule, argMax(days, applied_at) AS days FROM ${store.t('retention_applied')} GROUP BY rule`, {}, store.consistency.read)).map((r) => [r.rule, Number(r.days)]))
  // A table the schema does not have yet gets its TTL from the run that creates it.
  const tables = new Set((await store.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = {db:String}`, { db: store.db })).map((r) => r.name))
  const changed: string[] = []
  for (const rule of RETENTION_RULES) {
    if (!tables.has(rule.table)) continue
    const days = retention[rule.key]
    const before = last.get(rule.key)
    if (before === days) continue
    // No TTL to remove on a column that never had one.
    if (!(days === 0 && !before)) for (const s of statementsFor(store, retentionStatement(rule, days))) await store.command(s)
    await store.insert('retention_applied', [{ rule: rule.key, days, applied_at: now() }], store.consistency.write)
    changed.push(rule.key)
  }
  return changed
}

const now = () => new Date().toISOString().replace('T', ' ').replace('Z', '')
