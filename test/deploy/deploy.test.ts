import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clusterDdl } from '../../scripts/gen-cluster-ddl.ts'
import { Metrics } from '../../src/metrics.ts'

const deploy = join(import.meta.dirname, '../../deploy')

describe('deploy/', () => {
  it('cluster DDL is the migrations, replicated (regenerate with npx tsx scripts/gen-cluster-ddl.ts)', () => {
    expect(readFileSync(join(deploy, 'clickhouse/cluster.sql'), 'utf8')).toBe(clusterDdl())
    expect(clusterDdl()).not.toMatch(/ENGINE = (Replacing)?MergeTree/)
  })

  it('Prometheus rules pass promtool check and their unit tests', () => {
    // promtool comes from Debian's prometheus package (.ci/run installs it).
    const check = execFileSync('promtool', ['check', 'rules', join(deploy, 'prometheus/rules.yml')], { encoding: 'utf8' })
    expect(check).toMatch(/SUCCESS: \d+ rules found/)
    const unit = execFileSync('promtool', ['test', 'rules', 'rules.test.yml'], { cwd: join(deploy, 'prometheus'), encoding: 'utf8' })
    expect(unit).toMatch(/SUCCESS/)
  })

  it('every metric the rules and the dashboard use exists in src/metrics.ts', async () => {
    const known = new Set(new Metrics({ defaultMetrics: true }).allMetricNames())
    const used = new Set<string>()
    for (const f of ['prometheus/rules.yml', 'grafana/fundwatch.json']) {
      for (const m of readFileSync(join(deploy, f), 'utf8').matchAll(/fundwatch_[a-z_]+/g)) used.add(m[0].replace(/_(bucket|sum|count)$/, ''))
    }
    expect(used.size).toBeGreaterThan(5)
    expect([...used].filter((m) => !known.has(m))).toEqual([])
  })
})
