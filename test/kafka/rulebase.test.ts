import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { createApp, type App } from '../../src/app.ts'
import { buildServer } from '../../src/api/server.ts'
import { Users } from '../../src/auth/users.ts'
import { configFromEnv } from '../../src/config.ts'
import { rulesHash } from '../../src/detect/rules-file.ts'
import { paramsHash } from '../../src/detect/rulebase.ts'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { createLogger } from '../../src/log.ts'
import { Metrics } from '../../src/metrics.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { count, produce, spawnProcessor, startCluster, waitFor, type Cluster, type Processor } from '../helpers/cluster.ts'
import { kafkaBrokers } from '../helpers/kafka.ts'

/**
 * Done-when (issue 14): two processors pick up a rule change made through the
 * API without restart. Two `fundwatch run` processes and an API on the same
 * ClickHouse; the change is PUT on the API; each processor reports the new
 * hash in its log and on its /metrics, and the claims that follow are judged
 * under the new parameters.
 */
let c: Cluster
let api: { app: App; server: FastifyInstance } | undefined
const processors: Processor[] = []

beforeAll(async () => {
  c = await startCluster('rulebase', deliveryKb)
  await withAdmin(createKafka({ brokers: kafkaBrokers() }), (admin) => createTopics(admin, { prefix: c.prefix, partitions: 2 }))
})
afterAll(async () => {
  for (const p of processors) p.child.kill('SIGTERM')
  await Promise.all(processors.map((p) => p.exited))
  await api?.server.close()
  await api?.app.close()
  await c?.close()
})

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

/** The processor's log lines that say which rule base is in force. */
function inForce(p: Processor): string[] {
  if (!existsSync(p.logFile)) return []
  return readFileSync(p.logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg?: string; hash?: string })
    .filter((l) => l.msg === 'rule base in force').map((l) => l.hash!)
}

async function gauge(port: number): Promise<string[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  return [...text.matchAll(/^fundwatch_rulebase_info\{hash="([^"]*)"\} 1$/gm)].map((m) => m[1]!)
}

const RULES = 'detectors:\n  split-hospitalization:\n    params:\n      window_days: 20\n'

describe('a rule change through the API reaches every processor', () => {
  it('two running processors swap to the version PUT on the API, without restart', async () => {
    const brokers = kafkaBrokers()
    const ports = [await freePort(), await freePort()]
    for (const [i, name] of ['a', 'b'].entries()) {
      processors.push(spawnProcessor(c, brokers, name, { FUNDWATCH_RULES_POLL_MS: '300', METRICS_PORT: String(ports[i]), HOST: '127.0.0.1' }))
    }
    await waitFor('both processors started on the defaults', async () => {
      for (const p of processors) if (p.child.exitCode !== null) throw new Error(`${p.name} exited: ${existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8') : ''}`)
      return processors.every((p) => inForce(p).includes(''))
    }, 60_000, 200)
    for (const port of ports) await waitFor(`/metrics on ${port}`, async () => (await gauge(port).catch(() => [])).length === 1, 30_000, 200)
    expect(await Promise.all(ports.map(gauge))).toEqual([[''], ['']])

    // The API role, in this process, on the same store.
    const config = configFromEnv({ CLICKHOUSE_URL: c.url, FUNDWATCH_DB: c.database, FUNDWATCH_KB: c.kbDir })
    const app = await createApp(config, { metrics: new Metrics(), log: createLogger({ level: 'silent' }) })
    api = { app, server: await buildServer(app, { webDir: false, review: {} }) }
    const { token } = await new Users(c.store).create({ name: '规则管理员', role: 'admin', admdvs: [], fixmedins_codes: [] }, 'cli')
    const put = await api.server.inject({ method: 'PUT', url: '/api/v1/rules', headers: { authorization: `Bearer ${token}` }, payload: { text: RULES, reason: '住院窗口放宽到 20 天' } })
    expect(put.statusCode).toBe(200)
    const hash = rulesHash(RULES)
    expect(put.json().hash).toBe(hash)

    await waitFor('both processors report the new hash', async () => processors.every((p) => inForce(p).at(-1) === hash), 30_000, 200)
    await waitFor('both gauges show it', async () => (await Promise.all(ports.map(gauge))).every((g) => g.length === 1 && g[0] === hash), 30_000, 200)
    for (const p of processors) expect(p.child.exitCode, `${p.name} still running`).toBeNull()

    // What they judge from now on is judged under the new parameters.
    const stream = claimStream({ persons: 200, visitsPerPerson: 1, linesPerVisit: 2, splitEvery: 10, tag: 'RB' })
    await produce(createKafka({ brokers }), topicNames(c.prefix).claims, stream.events)
    const splitAlerts = `SELECT count() AS c FROM ${c.store.t('alerts')} FINAL WHERE detector_id = 'split-hospitalization'`
    await waitFor('split hospitalizations found', async () => (await count(c.store, splitAlerts)) >= stream.splitPairs.length, 120_000, 500)
    const hashes = await c.store.query<{ params_hash: string }>(`SELECT DISTINCT params_hash FROM ${c.store.t('alerts')} FINAL WHERE detector_id = 'split-hospitalization'`)
    const split = api.app.registry.find((d) => d.id === 'split-hospitalization')!
    expect(hashes.map((h) => h.params_hash)).toEqual([paramsHash(split.params.parse({ window_days: 20 }))])
  }, 300_000)
})
