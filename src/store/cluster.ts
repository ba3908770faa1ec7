/**
 * The migrations' statements as a replicated, sharded ClickHouse cluster runs
 * them (FUNDWATCH_CLUSTER). The migrations are written once, for one node; this
 * module is the one place that knows how each table is laid out on a cluster,
 * so `fundwatch migrate` and deploy/clickhouse/cluster.sql cannot differ.
 *
 * Two layouts (docs/clickhouse.md):
 * - sharded: the rows live in `<table>_local` (Replicated*MergeTree, one
 *   Keeper path per shard) and `<table>` is a Distributed table over them with
 *   a sharding key. The application reads and writes `<table>` and never knows.
 *   The key is a pure function of the row's own facts — the person, or the
 *   row's deterministic id — so a replayed row reaches the shard that already
 *   holds it and ReplacingMergeTree collapses it there, as on one node.
 * - everywhere: small tables the review workflow reads right after writing
 *   (and the migrator's own tables) keep their name and are one replica set
 *   over every node, so each node answers them from local data and insert
 *   deduplication — the workflow's optimistic concurrency — is decided once,
 *   in Keeper.
 * A third kind holds nothing: `node` tables (the Null-engine `ingest` the
 * pipeline writes the bytes it received to) exist under their own name on
 * every node; an insert into one fires that node's views, which write through
 * each target's Distributed table (or its replica set), as other views do.
 */

/** How each table is placed. A table not listed here cannot be migrated on a cluster. */
export type Placement = { shardBy: string } | 'everywhere' | 'node'

export const PLACEMENT: Readonly<Record<string, Placement>> = {
  // A person's claim history: one shard per person, so a state load or a
  // reversal lookup by psn_no reads one shard (optimize_skip_unused_shards).
  visits: { shardBy: 'cityHash64(psn_no)' },
  discharges: { shardBy: 'cityHash64(psn_no)' },
  fee_lines: { shardBy: 'cityHash64(psn_no)' },
  fee_reversals: { shardBy: 'cityHash64(psn_no)' },
  settlements: { shardBy: 'cityHash64(psn_no)' },
  settlement_reversals: { shardBy: 'cityHash64(psn_no)' },
  visit_updates: { shardBy: 'cityHash64(psn_no)' },
  visit_cancellations: { shardBy: 'cityHash64(psn_no)' },
  // Keeps nothing: its views (migration 14) build events and the typed tables on the node the insert reached.
  ingest: 'node',
  // Keyed by their own id: inventory events and institution-level findings
  // have no person, and a person or institution key would pile a large
  // hospital's rows onto one shard. The id is the ReplacingMergeTree key, so a
  // refined alert (same alert_id, later event_time) lands where it replaces.
  events: { shardBy: 'cityHash64(event_id)' },
  alerts: { shardBy: 'cityHash64(alert_id)' },
  alert_revisions: { shardBy: 'cityHash64(alert_id)' },
  // As alerts, so a promotion's INSERT … SELECT moves each row to the shard that holds its alert.
  shadow_alerts: { shardBy: 'cityHash64(alert_id)' },
  data_quality: { shardBy: 'cityHash64(dq_id)' },
  detector_errors: { shardBy: 'cityHash64(event_id)' },
  dead_letters: { shardBy: 'cityHash64(dlq_id)' },
  event_index: { shardBy: 'cityHash64(event_id)' },
  visit_index: { shardBy: 'cityHash64(mdtrt_id)' },
  inventory_movements: { shardBy: 'cityHash64(fixmedins_code)' },
  users: 'everywhere',
  alert_actions: 'everywhere',
  alert_status: 'everywhere',
  case_actions: 'everywhere',
  cases: 'everywhere',
  evidence_access_log: 'everywhere',
  rulebase_changes: 'everywhere',
  // Small, and read right after a 3103 writes them (the re-send check).
  precheck_findings: 'everywhere',
  national_feedback: 'everywhere',
  backtest_runs: 'everywhere',
  schema_migrations: 'everywhere',
  schema_migrations_lock: 'everywhere',
  retention_applied: 'everywhere',
}

/** Keeper paths: per shard for sharded tables; one path (every node a replica) for the rest. */
const SHARDED_PATH = `'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'`
// `{replica}` alone may repeat across shards (replica 01 of shard 01 and of
// shard 02); in a replica set spanning all shards the name must be unique.
const EVERYWHERE_PATH = `'/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}'`

/** Checked where the cluster name comes from: it is quoted into DDL. */
export const CLUSTER_NAME = /^(\{cluster\}|[a-zA-Z_][a-zA-Z0-9_-]{0,63})$/

export function localName(table: string): string {
  return PLACEMENT[table] === 'everywhere' || PLACEMENT[table] === 'node' ? table : `${table}_local`
}

function placement(table: string, sql: string): Placement {
  const p = PLACEMENT[table]
  if (!p) throw new Error(`no cluster placement for table "${table}" (src/store/cluster.ts PLACEMENT): ${sql.slice(0, 80)}`)
  return p
}

/**
 * One migration statement (with `{db}` still in it) as the statements a
 * cluster runs, in order. Throws on a statement whose cluster form is not
 * known, so a new kind of migration cannot reach a cluster half-translated.
 */
export function clusterStatements(sql: string, db: string, cluster: string): string[] {
  if (!CLUSTER_NAME.test(cluster)) throw new Error(`cluster name "${cluster}" is not a plain identifier`)
  const on = `ON CLUSTER '${cluster}'`
  const s = sql.trim().replaceAll('{db}', db)
  const q = (t: string) => `${db}.${t}`

  let m = /^CREATE TABLE IF NOT EXISTS (\S+)\.(\w+) \(/.exec(s)
  if (m) {
    const table = m[2]!
    const p = placement(table, s)
    if (p === 'node') {
      if (!/\) ENGINE = Null$/.test(s)) throw new Error(`a node table holds nothing (ENGINE = Null): ${table}`)
      return [s.replace(m[0], `CREATE TABLE IF NOT EXISTS ${q(table)} ${on} (`)]
    }
    const engine = /ENGINE = (Replacing|Summing|Aggregating)?MergeTree(?:\(([^)]*)\))?/
    if (!engine.test(s)) throw new Error(`no Replicated form for the engine of ${table}`)
    const body = s
      .replace(m[0], `CREATE TABLE IF NOT EXISTS ${q(localName(table))} ${on} (`)
      .replace(engine, (_all, kind: string | undefined, args: string | undefined) =>
        `ENGINE = Replicated${kind ?? ''}MergeTree(${p === 'everywhere' ? EVERYWHERE_PATH : SHARDED_PATH}${args ? `, ${args}` : ''})`)
      // Replicated tables deduplicate inserts in Keeper; the window setting has another name.
      .replace(/\bnon_replicated_deduplication_window\b/g, 'replicated_deduplication_window')
    if (p === 'everywhere') return [body]
    return [body, `CREATE TABLE IF NOT EXISTS ${q(table)} ${on} AS ${q(localName(table))} ENGINE = Distributed('${cluster}', ${db}, ${localName(table)}, ${p.shardBy})`]
  }

  m = /^CREATE MATERIALIZED VIEW IF NOT EXISTS (\S+) TO (\S+)\.(\w+) AS\b/.exec(s)
  if (m) {
    // A view fires on the node that receives the insert into its source: the
    // local table. It writes to the target's Distributed table, which routes
    // each row by the target's own sharding key (an everywhere target is
    // local and replicates itself).
    placement(m[3]!, s)
    const sources = [...s.matchAll(new RegExp(`FROM ${db}\\.(\\w+)`, 'g'))].map((x) => x[1]!)
    if (sources.length !== 1) throw new Error(`a materialized view must read one table: ${s.slice(0, 80)}`)
    placement(sources[0]!, s)
    return [s
      .replace(m[0], `CREATE MATERIALIZED VIEW IF NOT EXISTS ${m[1]} ${on} TO ${m[2]}.${m[3]} AS`)
      .replace(`FROM ${db}.${sources[0]}`, `FROM ${q(localName(sources[0]!))}`)]
  }

  m = /^ALTER TABLE (\S+)\.(\w+) /.exec(s)
  if (m) {
    const table = m[2]!
    const p = placement(table, s)
    const local = s.replace(m[0], `ALTER TABLE ${q(localName(table))} ${on} `)
    if (p === 'everywhere') return [local]
    // The Distributed table mirrors the columns and nothing else (no TTL, projections or settings).
    const rest = s.slice(m[0].length)
    const columnsOnly = /^(ADD|MODIFY|DROP) COLUMN\b/.test(rest) && !/\b(TTL|PROJECTION|SETTING|CODEC)\b/.test(rest)
    return columnsOnly ? [local, s.replace(m[0], `ALTER TABLE ${q(table)} ${on} `)] : [local]
  }

  // A backfill runs once, from the migrator's node: it reads the Distributed
  // tables (every shard) and writes through them (routed by the key).
  if (/^INSERT INTO \S+\.\w+ (\([^)]*\) )?SELECT\b/.test(s)) return [s]

  throw new Error(`no cluster form for this statement (src/store/cluster.ts): ${s.slice(0, 80)}`)
}
