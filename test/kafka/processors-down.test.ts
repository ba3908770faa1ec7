import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { produce, spawnProcessor, startCluster, waitFor, type Cluster, type Processor } from '../helpers/cluster.ts'
import { kafkaBrokers } from '../helpers/kafka.ts'
import { freePort, startPrometheus, type Prometheus } from '../helpers/prometheus.ts'

/**
 * Issue 12, "all processors down → no alert at all": two `fundwatch run`
 * processors consume a real Kafka stream and serve /metrics on METRICS_PORT; a
 * real Prometheus scrapes them every second as the shipped job and evaluates
 * the shipped deploy/prometheus/rules.yml, unchanged. Both processors are
 * killed with SIGKILL. Over what Prometheus actually stored, the
 * FundwatchProcessorsDown expression is false for every evaluation while they
 * run and true from the first failed scrape on, the alert goes pending, and
 * the lag series (the only thing that spoke of consumption before) vanish.
 * Its `for: 3m` is kept; a copy of the rule with `for: 5s` (in its own file,
 * labelled as a copy) shows the same expression taking the alert to firing.
 */
const promDir = join(import.meta.dirname, '../../deploy/prometheus')
interface Rule { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }
const rulesFile = join(promDir, 'rules.yml')
const shippedRules = (parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules)
const down = shippedRules.find((r) => r.alert === 'FundwatchProcessorsDown') as Rule
const shippedScrape = parse(readFileSync(join(promDir, 'prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string }[] }
const JOB = 'fundwatch-processor'

let c: Cluster
let prom: Prometheus | undefined
const processors: Processor[] = []
const ports: number[] = []
const stream = claimStream({ persons: 400, visitsPerPerson: 1, linesPerVisit: 2, splitEvery: 20, tag: 'PD' })
const now = () => Date.now() / 1000

beforeAll(async () => {
  if (!down) throw new Error('deploy/prometheus/rules.yml has no FundwatchProcessorsDown alert')
  c = await startCluster('down', deliveryKb)
  const kafka = createKafka({ brokers: kafkaBrokers() })
  await withAdmin(kafka, (admin) => createTopics(admin, { prefix: c.prefix, partitions: 2 }))
  await produce(kafka, topicNames(c.prefix).claims, stream.events)
  for (const name of ['p1', 'p2']) {
    const port = await freePort()
    ports.push(port)
    processors.push(spawnProcessor(c, kafkaBrokers(), name, { METRICS_PORT: String(port), HOST: '127.0.0.1' }))
  }
  // The copy with a short `for`, in a group and file of its own; everything else is the shipped rule.
  const copyFile = join(c.dir, 'processors-down-short-for.yml')
  writeFileSync(copyFile, JSON.stringify({ groups: [{ name: 'copy-with-short-for', rules: [{ ...down, for: '5s', labels: { ...down.labels, copy: 'for 5s' } }] }] }))
  prom = await startPrometheus(join(c.dir, 'prometheus'), {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [rulesFile, copyFile],
    scrape_configs: [{ job_name: JOB, static_configs: [{ targets: ports.map((p) => `127.0.0.1:${p}`) }] }],
  })
}, 180_000)

afterAll(async () => {
  for (const p of processors) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
  await Promise.all(processors.map((p) => p.exited))
  await prom?.stop()
  await c?.close()
})

describe('all processors down', () => {
  it('the shipped rule names the job the shipped scrape config uses', () => {
    expect(down, 'deploy/prometheus/rules.yml has FundwatchProcessorsDown').toBeDefined()
    expect(down.expr).toContain(`job="${JOB}"`)
    expect(shippedScrape.scrape_configs.map((s) => s.job_name)).toContain(JOB)
  })

  it('kill -9 every processor: FundwatchProcessorsDown turns true over the real scrape history and the alert goes pending (firing for a short-for copy)', async () => {
    const p = prom!
    const t0 = Date.now()
    const ours = async () => (await p.alerts()).filter((a) => a.labels.alertname === down.alert)
    await waitFor('both processors scraped up', async () => (await p.query(`up{job="${JOB}"} == 1`)).length === 2, 60_000)
    const tUp = now()

    // A real run: they consume the stream, and the scrape carries their lag.
    const kafka = createKafka({ brokers: kafkaBrokers() })
    const claims = topicNames(c.prefix).claims
    const end = (await withAdmin(kafka, (a) => a.fetchTopicOffsets(claims))).map((o) => `${o.partition}:${o.high}`).sort()
    const committed = async () => (await withAdmin(kafka, (a) => a.fetchOffsets({ groupId: c.group, topics: [claims] })))[0]!.partitions.map((o) => `${o.partition}:${o.offset}`).sort()
    await waitFor('the processors to commit the whole stream', async () => JSON.stringify(await committed()) === JSON.stringify(end), 120_000)
    await waitFor('lag and stored events in the scrape', async () =>
      (await p.query(`fundwatch_consumer_lag{job="${JOB}"}`)).length > 0 && (await p.query(`sum(fundwatch_events_in_total{job="${JOB}"}) > 0`)).length === 1, 30_000)
    // Some evaluations of the rule while both run, and none of them true.
    await waitFor('eight seconds of history with both up', async () => now() - tUp >= 8, 15_000)
    expect(await p.query(down.expr)).toEqual([])
    expect(await ours()).toEqual([])
    const lagBefore = await p.query(`fundwatch_consumer_lag{job="${JOB}"}`)

    const tKill = now()
    // A scrape or rule evaluation under way when the kill lands carries its scheduled (earlier) time
    // stamp, so the first failed sample may stand up to one interval (1 s) before tKill: no earlier.
    const ranUntil = tKill - 1
    for (const proc of processors) proc.child.kill('SIGKILL')
    for (const proc of processors) expect((await proc.exited).signal).toBe('SIGKILL')

    await waitFor(`${down.alert}'s expression true`, async () => (await p.query(down.expr)).length === 1, 30_000, 250)
    const tTrue = now()
    await waitFor('the shipped alert pending and the short-for copy firing', async () => {
      const a = await ours()
      return a.some((x) => x.labels.copy === undefined && x.state === 'pending') && a.some((x) => x.labels.copy === 'for 5s' && x.state === 'firing')
    }, 30_000, 250)
    const tFiring = now()
    const alerts = await ours()
    const shipped = alerts.find((x) => x.labels.copy === undefined)!
    // Its `for: 3m` has not passed: pending, with the shipped labels and runbook, since after the kill.
    expect(shipped).toMatchObject({ state: 'pending', labels: { alertname: down.alert, ...down.labels }, annotations: { runbook_url: down.annotations.runbook_url } })
    expect(Date.parse(shipped.activeAt) / 1000).toBeGreaterThanOrEqual(ranUntil)
    // The per-target alert sees each dead target too (pending: its `for` is longer still).
    expect((await p.alerts()).filter((a) => a.labels.alertname === 'FundwatchTargetDown').map((a) => a.labels.instance).sort()).toEqual(ports.map((x) => `127.0.0.1:${x}`).sort())

    // Over what Prometheus stored: the expression at every second from both-up to now.
    const start = Math.ceil(tUp)
    const stop = Math.floor(now())
    const history = await p.queryRange(down.expr, start, stop, 1)
    const trueAt = (history[0]?.values ?? []).map(([t]) => t)
    const evaluated = stop - start + 1
    const whileUp = Array.from({ length: evaluated }, (_, i) => start + i).filter((t) => t < tKill)
    expect(whileUp.length).toBeGreaterThanOrEqual(5)
    expect(trueAt.filter((t) => t < ranUntil), 'true while both processors ran').toEqual([])
    expect(trueAt.length).toBeGreaterThan(0)
    // Once true it stays true: from the first failed scrapes to the end of the window, every second.
    const first = trueAt[0]!
    expect(trueAt).toEqual(Array.from({ length: stop - first + 1 }, (_, i) => first + i))
    // The rule manager's own record agrees: ALERTS for it only after the kill. Read from two
    // evaluations after both were seen up: before they were, the expression is true (`or vector(0)`),
    // so the alert can be pending from start-up until the first evaluation after tUp resolves it, and
    // a range query at a point reads the last sample before it (its pending sample of start-up).
    const alertsSeries = await p.queryRange(`ALERTS{alertname="${down.alert}"}`, start + 2, stop, 1)
    expect(alertsSeries.length).toBeGreaterThan(0)
    expect(alertsSeries.flatMap((s) => s.values.map(([t]) => t)).filter((t) => t < ranUntil)).toEqual([])
    // Why the rule is needed: the lag the processors reported vanished with them, so no lag alert can fire.
    expect(lagBefore.length).toBeGreaterThan(0)
    expect(await p.query(`fundwatch_consumer_lag{job="${JOB}"}`)).toEqual([])
    expect(await p.query(`up{job="${JOB}"} == 0`)).toHaveLength(2)

    console.log([
      `processors down: ${processors.length} processors (metrics ports ${ports.join(', ')}), ${stream.events.length} events consumed; Prometheus scrape/eval 1 s`,
      `  up after ${(tUp - t0 / 1000).toFixed(1)} s; ${whileUp.length} evaluations while up, all false; lag series before the kill ${lagBefore.length}, after 0`,
      `  expression true ${(tTrue - tKill).toFixed(1)} s after the kill (first true point in the history at +${(first - tKill).toFixed(1)} s); shipped alert pending, copy with for 5s firing ${(tFiring - tKill).toFixed(1)} s after the kill`,
    ].join('\n'))
  }, 240_000)
})
