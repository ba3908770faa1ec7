import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clusterDdl } from '../../scripts/gen-cluster-ddl.ts'
import { configFromEnv } from '../../src/config.ts'
import { PLACEMENT, clusterStatements } from '../../src/store/cluster.ts'
import { BOOTSTRAP, MIGRATIONS } from '../../src/store/migrations.ts'

/**
 * There is no ClickHouse server here, so the cluster DDL is checked for its
 * structure: what a cluster needs from every statement, and the Distributed
 * twin of every sharded table with its key. The single-node form of the same
 * migrations runs on chDB in migrations.test.ts.
 */
const ddl = clusterDdl()
const statements = ddl.split(/;\n/).map((s) => s.replace(/^(--[^\n]*\n|\n)+/, '').trim()).filter((s) => s && !s.startsWith('--'))
const creates = statements.filter((s) => s.startsWith('CREATE'))
const createdTables = (s: string) => /^CREATE TABLE IF NOT EXISTS fundwatch\.(\w+)/.exec(s)?.[1]
const PERSON_KEYED = ['visits', 'discharges', 'fee_lines', 'fee_reversals', 'settlements', 'settlement_reversals']

describe('cluster DDL (deploy/clickhouse/cluster.sql)', () => {
  it('is the committed file (regenerate with npx tsx scripts/gen-cluster-ddl.ts)', () => {
    expect(readFileSync(join(import.meta.dirname, '../../deploy/clickhouse/cluster.sql'), 'utf8')).toBe(ddl)
  })

  it('every CREATE and ALTER runs ON CLUSTER; every table engine is Replicated or Distributed', () => {
    expect(creates.length).toBeGreaterThan(30)
    for (const s of statements.filter((x) => /^(CREATE|ALTER)/.test(x))) expect(s, s.slice(0, 90)).toMatch(/^(CREATE (DATABASE|TABLE|MATERIALIZED VIEW)|ALTER TABLE) (IF NOT EXISTS )?\S+ ON CLUSTER '\{cluster\}'/)
    for (const s of creates.filter((x) => x.startsWith('CREATE TABLE') && createdTables(x) !== 'ingest')) {
      expect(s, s.slice(0, 90)).toMatch(/ENGINE = (Replicated(Replacing|Aggregating)?MergeTree\('\/clickhouse\/tables\/(\{shard\}|all)\/\{database\}\/\{table\}', '(\{shard\}-)?\{replica\}'|Distributed\('\{cluster\}', fundwatch, \w+_local, cityHash64\(\w+\)\))/)
    }
    expect(ddl).not.toMatch(/ENGINE = (Replacing|Aggregating|Summing)?MergeTree\b/)
    expect(ddl).not.toMatch(/non_replicated_deduplication_window/)
  })

  it('each person-keyed table has a Distributed twin sharded by cityHash64(psn_no) over its replicated _local table', () => {
    for (const t of PERSON_KEYED) {
      const local = creates.find((s) => createdTables(s) === `${t}_local`)
      expect(local, t).toMatch(/ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\//)
      expect(creates.filter((s) => createdTables(s) === t), t).toEqual([
        `CREATE TABLE IF NOT EXISTS fundwatch.${t} ON CLUSTER '{cluster}' AS fundwatch.${t}_local ENGINE = Distributed('{cluster}', fundwatch, ${t}_local, cityHash64(psn_no))`,
      ])
    }
  })

  it('every sharded table has exactly one Distributed twin with its declared key; workflow tables are one replica set on every node', () => {
    for (const [t, p] of Object.entries(PLACEMENT)) {
      const mine = creates.filter((s) => createdTables(s) === t || createdTables(s) === `${t}_local`)
      if (p === 'node') {
        expect(mine, t).toHaveLength(1)
        expect(mine[0], t).toMatch(/\) ENGINE = Null$/)
      } else if (p === 'everywhere') {
        expect(mine, t).toHaveLength(1)
        expect(mine[0], t).toMatch(/'\/clickhouse\/tables\/all\/\{database\}\/\{table\}', '\{shard\}-\{replica\}'/)
      } else {
        expect(mine, t).toHaveLength(2)
        expect(mine[1], t).toContain(`ENGINE = Distributed('{cluster}', fundwatch, ${t}_local, ${p.shardBy})`)
      }
    }
    for (const t of ['schema_migrations', 'schema_migrations_lock', 'alert_actions', 'alert_status', 'cases', 'case_actions', 'users']) expect(PLACEMENT[t], t).toBe('everywhere')
    // The sharding key of a sharded table is a column of it (a replay must reach the same shard).
    for (const [t, p] of Object.entries(PLACEMENT)) {
      if (p === 'everywhere' || p === 'node') continue
      const col = /cityHash64\((\w+)\)/.exec(p.shardBy)![1]!
      expect(creates.find((s) => createdTables(s) === `${t}_local`), `${t} has no ${col}`).toMatch(new RegExp(`\\b${col} (LowCardinality\\()?String`))
    }
  })

  it('views fire on the local table and write through the target\'s own layout; TTLs and projections go to the local tables only', () => {
    expect(ddl).toContain(`TO fundwatch.event_index AS\n  SELECT event_id, lower(hex(SHA256(raw))) AS content_sha256, ingested_at AS first_ingested FROM fundwatch.events_local`)
    expect(ddl).toContain('FROM fundwatch.alert_actions') // everywhere → everywhere, unchanged
    expect(ddl).toMatch(/ALTER TABLE fundwatch\.fee_reversals_local ON CLUSTER '\{cluster\}' ADD PROJECTION IF NOT EXISTS by_psn/)
    expect(ddl).not.toMatch(/ALTER TABLE fundwatch\.\w+(?<!_local) ON CLUSTER '\{cluster\}' (ADD PROJECTION|MODIFY SETTING|MODIFY COLUMN \w+ TTL)/)
    expect(ddl).toMatch(/ALTER TABLE fundwatch\.visits_local ON CLUSTER '\{cluster\}' MODIFY COLUMN certno TTL toDateTime\(begntime\) \+ INTERVAL 1827 DAY/)
    // A column change reaches the Distributed table too, or reads through it would not see the column.
    expect(ddl).toContain(`ALTER TABLE fundwatch.settlements ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS hosp_part_amt`)
  })

  it('the ingest table is a Null table on every node; its views read it there and write through each target\'s Distributed table', () => {
    expect(creates.filter((s) => createdTables(s) === 'ingest')).toHaveLength(1)
    expect(ddl).not.toContain('ingest_local')
    const views = creates.filter((s) => /^CREATE MATERIALIZED VIEW IF NOT EXISTS fundwatch\.ingest_\w+_mv/.test(s))
    expect(views.map((v) => /TO fundwatch\.(\w+) AS/.exec(v)![1]).sort()).toEqual(
      ['discharges', 'events', 'fee_lines', 'fee_reversals', 'inventory_movements', 'settlement_reversals', 'settlements', 'visit_cancellations', 'visit_updates', 'visits'])
    for (const v of views) expect(v, v.slice(0, 90)).toMatch(/ON CLUSTER '\{cluster\}' TO fundwatch\.[a-z_]+(?<!_local) AS[\s\S]* FROM fundwatch\.ingest\b/)
  })

  it('records every migration version, so a migrate after a hand-applied file resumes', () => {
    const recorded = /INSERT INTO fundwatch\.schema_migrations \(version, name, applied_at\) VALUES\n([\s\S]*?);\n\n/.exec(ddl)![1]!
    expect([...recorded.matchAll(/^\s*\((\d+),/gm)].map((m) => Number(m[1]))).toEqual(MIGRATIONS.map((m) => m.version))
  })

  it('refuses a statement or a table it has no cluster form for, instead of emitting a half-translated schema', () => {
    expect(() => clusterStatements('RENAME TABLE {db}.alerts TO {db}.alerts_old', 'fw', 'c')).toThrow(/no cluster form/)
    expect(() => clusterStatements('CREATE TABLE IF NOT EXISTS {db}.new_table (a String) ENGINE = MergeTree ORDER BY a', 'fw', 'c')).toThrow(/no cluster placement for table "new_table"/)
    expect(() => clusterStatements(BOOTSTRAP[0]!, 'fw', "c' SETTINGS x=1 --")).toThrow(/not a plain identifier/)
  })
})

describe('cluster and retention configuration', () => {
  it('FUNDWATCH_CLUSTER needs a server; retention days come per rule from FUNDWATCH_RETENTION_*, with their floors', () => {
    expect(() => configFromEnv({ FUNDWATCH_CLUSTER: 'fundwatch' })).toThrow(/FUNDWATCH_CLUSTER needs CLICKHOUSE_URL/)
    expect(() => configFromEnv({ FUNDWATCH_CLUSTER: "x' --", CLICKHOUSE_URL: 'http://ch:8123' })).toThrow(/cluster/)
    expect(configFromEnv({ FUNDWATCH_CLUSTER: 'fundwatch', CLICKHOUSE_URL: 'http://ch:8123' }).cluster).toBe('fundwatch')
    expect(configFromEnv({}).retention).toEqual({ events_raw: 1827, visits_personal: 1827, dead_letters_raw: 365 })
    expect(configFromEnv({ FUNDWATCH_RETENTION_EVENTS_RAW: '30', FUNDWATCH_RETENTION_VISITS_PERSONAL: '0' }).retention).toEqual({ events_raw: 30, visits_personal: 0, dead_letters_raw: 365 })
    expect(() => configFromEnv({ FUNDWATCH_RETENTION_VISITS_PERSONAL: '30' })).toThrow(/FUNDWATCH_RETENTION_VISITS_PERSONAL: 0 \(keep\) or at least 731 days/)
    expect(() => configFromEnv({ FUNDWATCH_RETENTION_DEAD_LETTERS_RAW: 'soon' })).toThrow(/retention\.dead_letters_raw/)
  })
})
