// Writes deploy/clickhouse/cluster.sql: the app's migrations rewritten for a
// replicated ClickHouse cluster (ON CLUSTER, Replicated* engines), so the
// cluster schema can never drift from what `fundwatch migrate` creates.
// `--check` fails when the committed file differs.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MIGRATIONS } from '../src/store/migrations.ts'

export function clusterDdl(database = 'fundwatch'): string {
  const out = [
    '-- fundwatch schema for a replicated ClickHouse cluster, generated from src/store/migrations.ts',
    '-- by scripts/gen-cluster-ddl.ts. Every replica holds all rows (one shard); the',
    '-- ReplacingMergeTree dedup on deterministic ids works per replica as in the single node.',
    '-- Apply once, then run processors and API replicas with CLICKHOUSE_URL pointing at the cluster',
    "-- (e.g. through a load balancer) and FUNDWATCH_DB=" + database + '.',
    '',
    `CREATE DATABASE IF NOT EXISTS ${database} ON CLUSTER '{cluster}';`,
    '',
  ]
  for (const m of MIGRATIONS) {
    out.push(`-- migration ${m.version}: ${m.name}`)
    for (const sql of m.statements) {
      const s = sql
        .replaceAll('{db}', database)
        .replace(/^(CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS \S+|ALTER TABLE \S+|INSERT INTO \S+)/, (head: string) => (head.startsWith('INSERT') ? head : `${head} ON CLUSTER '{cluster}'`))
        .replace(/ENGINE = (Replacing|Summing|Aggregating)?MergeTree(\(([^)]*)\))?/, (_all, kind: string | undefined, _p, args: string | undefined) =>
          `ENGINE = Replicated${kind ?? ''}MergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}'${args ? `, ${args}` : ''})`)
      out.push(s.replace(/\n\s+/g, '\n  ').trim() + ';', '')
    }
  }
  return out.join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = join(import.meta.dirname, '..', 'deploy', 'clickhouse', 'cluster.sql')
  const text = clusterDdl()
  if (process.argv.includes('--check')) {
    if (readFileSync(file, 'utf8') !== text) {
      console.error('deploy/clickhouse/cluster.sql is out of date with the migrations: run npx tsx scripts/gen-cluster-ddl.ts')
      process.exit(1)
    }
  } else writeFileSync(file, text)
}
