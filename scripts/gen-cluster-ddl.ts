// Writes deploy/clickhouse/cluster.sql: the app's migrations as
// `FUNDWATCH_CLUSTER=… fundwatch migrate` runs them on a replicated, sharded
// ClickHouse cluster (src/store/cluster.ts), so the file can never drift from
// what the migrator creates. `--check` fails when the committed file differs
// (test/store/cluster.test.ts runs the same comparison).
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BOOTSTRAP, MIGRATIONS, statementsFor } from '../src/store/migrations.ts'
import { DEFAULT_RETENTION, RETENTION_RULES, retentionStatement } from '../src/store/retention.ts'

export function clusterDdl(database = 'fundwatch', cluster = '{cluster}'): string {
  const target = { db: database, cluster }
  const out = [
    '-- fundwatch schema for a replicated, sharded ClickHouse cluster, generated from',
    '-- src/store/migrations.ts by scripts/gen-cluster-ddl.ts (layout: docs/clickhouse.md).',
    '-- Prefer `FUNDWATCH_CLUSTER=<cluster> fundwatch migrate`: it runs exactly these statements',
    '-- under the migration lock and applies FUNDWATCH_RETENTION_*. Applied by hand, this file',
    '-- ends by recording the versions and the default retention, so a later migrate resumes from there.',
    `-- '{cluster}' and the {shard}/{replica} macros come from each server's configuration.`,
    '',
    `CREATE DATABASE IF NOT EXISTS ${database} ON CLUSTER '${cluster}';`,
    '',
    '-- the migrator\'s own tables',
  ]
  const push = (sql: string) => { for (const s of statementsFor(target, sql)) out.push(s.replace(/\n\s+/g, '\n  ').trim() + ';', '') }
  for (const sql of BOOTSTRAP) push(sql)
  for (const m of MIGRATIONS) {
    out.push(`-- migration ${m.version}: ${m.name}`)
    for (const sql of m.statements) push(sql)
  }
  out.push('-- retention, the documented defaults (docs/clickhouse.md#retention)')
  for (const rule of RETENTION_RULES) if (DEFAULT_RETENTION[rule.key]) push(retentionStatement(rule, DEFAULT_RETENTION[rule.key]))
  out.push('-- what the migrator reads to know what is applied')
  out.push(`INSERT INTO ${database}.schema_migrations (version, name, applied_at) VALUES\n  ${MIGRATIONS.map((m) => `(${m.version}, '${m.name.replaceAll("'", "''")}', now64(3))`).join(',\n  ')};`, '')
  out.push(`INSERT INTO ${database}.retention_applied (rule, days, applied_at) VALUES\n  ${RETENTION_RULES.map((r) => `('${r.key}', ${DEFAULT_RETENTION[r.key]}, now64(3))`).join(',\n  ')};`, '')
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
