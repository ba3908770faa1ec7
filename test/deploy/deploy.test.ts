import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { clusterDdl } from '../../scripts/gen-cluster-ddl.ts'
import { Metrics } from '../../src/metrics.ts'

const deploy = join(import.meta.dirname, '../../deploy')
const docs = join(import.meta.dirname, '../../docs')

interface Rule { alert: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface RuleTest { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }
const rules = (parse(readFileSync(join(deploy, 'prometheus/rules.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules)

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

  it('every alert has a severity, a team and a runbook_url to its own section of docs/runbooks.md', () => {
    const runbooks = readFileSync(join(docs, 'runbooks.md'), 'utf8')
    const anchors = new Set([...runbooks.matchAll(/^## (\S+)$/gm)].map((m) => m[1]!.toLowerCase()))
    expect(rules.length).toBeGreaterThanOrEqual(20)
    for (const r of rules) {
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity)
      expect(r.labels?.team, r.alert).toBe('fundwatch')
      expect(r.annotations?.summary, r.alert).toBeTruthy()
      expect(r.annotations?.description, r.alert).toBeTruthy()
      expect(r.annotations?.runbook_url, r.alert).toBe(`docs/runbooks.md#${r.alert.toLowerCase()}`)
      expect(anchors.has(r.alert.toLowerCase()), `docs/runbooks.md has no section ## ${r.alert}`).toBe(true)
    }
    // And no runbook for an alert that does not exist.
    expect([...anchors].sort()).toEqual(rules.map((r) => r.alert.toLowerCase()).sort())
  })

  it('every alert has a promtool test where it fires and one where it stays quiet', () => {
    const tests = (parse(readFileSync(join(deploy, 'prometheus/rules.test.yml'), 'utf8')) as { tests: RuleTest[] }).tests
    const cases = tests.flatMap((t) => t.alert_rule_test ?? [])
    for (const r of rules) {
      const mine = cases.filter((c) => c.alertname === r.alert)
      expect(mine.some((c) => c.exp_alerts.length > 0), `${r.alert} never fires in rules.test.yml`).toBe(true)
      expect(mine.some((c) => c.exp_alerts.length === 0), `${r.alert} is never shown quiet in rules.test.yml`).toBe(true)
    }
  })

  it('the dashboard is well formed: units everywhere, $__rate_interval, job and instance variables, one row per area', () => {
    interface Panel { id: number; type: string; title: string; gridPos?: object; datasource?: { uid: string }; fieldConfig?: { defaults?: { unit?: string } }; targets?: { expr: string; refId: string }[] }
    const d = JSON.parse(readFileSync(join(deploy, 'grafana/fundwatch.json'), 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } }
    expect(d.uid).toBe('fundwatch')
    expect(d.templating.list.map((v) => v.name)).toEqual(['datasource', 'job', 'instance'])
    expect(d.panels.filter((p) => p.type === 'row').map((p) => p.title)).toEqual(['Ingest', 'Detection', 'Sinks', 'API', 'Pre-check (事前)', 'Audit (事后)', 'Process', 'National interface'])
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length)
    for (const p of d.panels.filter((x) => x.type !== 'row')) {
      expect(p.gridPos, p.title).toBeDefined()
      expect(p.datasource?.uid, p.title).toBe('${datasource}')
      expect(p.fieldConfig?.defaults?.unit, `${p.title} has no unit`).toMatch(/^(ops|reqps|s|short|bytes|percentunit)$/)
      expect(p.targets?.length, p.title).toBeGreaterThan(0)
      for (const t of p.targets ?? []) {
        // No fixed windows: a [1m] rate is empty when the scrape interval is 1 m.
        for (const w of t.expr.matchAll(/\[([^\]]+)\]/g)) expect(w[1], `${p.title}: ${t.expr}`).toBe('$__rate_interval')
        if (/fundwatch_(?!audit_)|process_|nodejs_/.test(t.expr)) expect(t.expr, p.title).toContain('instance=~"$instance"')
      }
    }
    // "Seconds per second" of a stage is a busy fraction, not seconds.
    expect(d.panels.find((p) => p.title === 'Batch stage busy fraction')?.fieldConfig?.defaults?.unit).toBe('percentunit')
  })

  it('Grafana provisioning loads the dashboard and its datasource, and the compose stack mounts them; prometheus.yml passes promtool', () => {
    const ds = parse(readFileSync(join(deploy, 'grafana/provisioning/datasources/prometheus.yaml'), 'utf8')) as { datasources: { type: string; url: string }[] }
    expect(ds.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' })])
    const dash = parse(readFileSync(join(deploy, 'grafana/provisioning/dashboards/fundwatch.yaml'), 'utf8')) as { providers: { type: string; options: { path: string } }[] }
    const path = dash.providers[0]!.options.path
    const compose = parse(readFileSync(join(deploy, 'compose.yaml'), 'utf8')) as { services: Record<string, { volumes?: string[]; environment?: Record<string, string> }> }
    const mounts = compose.services.grafana!.volumes!
    expect(mounts).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro')
    expect(mounts).toContain(`./grafana/fundwatch.json:${path}/fundwatch.json:ro`)
    expect(compose.services.prometheus!.volumes).toContain('./prometheus/rules.yml:/etc/prometheus/rules.yml:ro')
    expect(compose.services.processor!.environment).toMatchObject({ METRICS_PORT: '9400' })
    const check = execFileSync('promtool', ['check', 'config', join(deploy, 'prometheus/prometheus.yml')], { encoding: 'utf8' })
    expect(check).toMatch(/is valid prometheus config file/)
    const prom = parse(readFileSync(join(deploy, 'prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string }[] }
    // The job names the rules select on.
    expect(prom.scrape_configs.map((c) => c.job_name)).toEqual(expect.arrayContaining(['fundwatch-processor', 'fundwatch-api']))
  })
})
