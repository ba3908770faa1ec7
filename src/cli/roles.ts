import { buildProbeServer } from '../api/http-metrics.ts'
import { buildServer, createLiveFeed } from '../api/server.ts'
import { FundwatchError } from '../errors.ts'
import { createKafka, withAdmin } from '../kafka/admin.ts'
import { followAlerts } from '../kafka/follow.ts'
import { GroupMembership } from '../kafka/membership.ts'
import { kafkaSecurity } from '../kafka/security.ts'
import { faultFromEnv, runProcessor } from '../kafka/processor.ts'
import { createTopics, topicNames } from '../kafka/topics.ts'
import { configFromEnv, requireKafkaBrokers } from '../config.ts'
import { appFromFlags, fmtRate, stopSignal, type CommonFlags } from './common.ts'

/** The long-running roles apart from `start`: the Kafka processor, the API alone, topic management, the chDB server. */

function kafkaBrokers(what: string): string {
  return requireKafkaBrokers(configFromEnv(), what)
}

export async function runCmd(flags: CommonFlags & { port?: string; 'from-latest'?: boolean }): Promise<number> {
  // Checked before the app opens (and migrates) the store: a misconfigured processor touches nothing
  // (the TLS and SASL files too; runProcessor reads them again for its clients).
  kafkaBrokers('fundwatch run')
  kafkaSecurity(configFromEnv())
  const fault = faultFromEnv(process.env)
  const app = await appFromFlags(flags, { port: flags.port })
  const ac = stopSignal()
  // The processor serves the probes and /metrics: with METRICS_PORT those
  // alone; else the whole API on PORT (0 = nothing). Ready = store answers and
  // a member of the consumer group (src/api/probes.ts).
  const membership = new GroupMembership()
  const readiness = [{ name: 'kafka', check: () => membership.readiness() }]
  const probePort = app.config.metricsPort
  const server = probePort ? await buildProbeServer(app, { readiness }) : app.config.port ? await buildServer(app, { readiness }) : undefined
  if (server) await server.listen({ port: probePort ?? app.config.port, host: app.config.host })
  const t0 = performance.now()
  try {
    const s = await runProcessor(app, ac.signal, { fromBeginning: !flags['from-latest'], fault, membership })
    const ms = performance.now() - t0
    app.log.info({ ...s, events_per_s: fmtRate(s.events, ms) }, 'processor stopped: stored batches committed, left the group')
    return 0
  } finally {
    await server?.close()
    await app.close()
  }
}

export async function topicsCmd(flags: { partitions?: string; 'replication-factor'?: string; 'retention-ms'?: string }): Promise<number> {
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new FundwatchError('BAD_REQUEST', `--${name} must be a positive integer (got ${v})`)
    return n
  }
  const opts = { partitions: int('partitions', flags.partitions), replicationFactor: int('replication-factor', flags['replication-factor']), retentionMs: int('retention-ms', flags['retention-ms']) }
  const kafka = createKafka({ brokers: kafkaBrokers('fundwatch topics create'), security: kafkaSecurity(configFromEnv()) })
  const r = await withAdmin(kafka, (admin) => createTopics(admin, { prefix: configFromEnv().topicPrefix, ...opts }))
  console.log(JSON.stringify(r, null, 2))
  return 0
}

export async function serveCmd(flags: CommonFlags & { port?: string }): Promise<number> {
  // The API and console role alone (production: replicas behind a load
  // balancer, processors elsewhere). No generator, no pipeline.
  const app = await appFromFlags(flags, { port: flags.port })
  const live = createLiveFeed(app)
  const server = await buildServer(app, { live })
  // The live feed of a replica apart from the processors: the alerts topic.
  const brokers = app.config.kafkaBrokers
  const follower = brokers
    ? followAlerts(createKafka({ brokers, clientId: `fundwatch-api-${process.pid}`, security: kafkaSecurity(app.config, app.log) }), topicNames(app.config.topicPrefix).alerts, live.sink, app.log, { groupPrefix: `${app.config.topicPrefix}fundwatch-live` })
    : undefined
  const ac = stopSignal()
  const address = await server.listen({ port: app.config.port, host: app.config.host })
  console.log(`fundwatch API and console at ${address} (OpenAPI at ${address}/docs); live feed: ${follower ? 'the alerts topic' : 'none (KAFKA_BROKERS is not set)'}`)
  await new Promise((r) => ac.signal.addEventListener('abort', r, { once: true }))
  await follower?.stop()
  await server.close()
  await app.close()
  return 0
}

export async function chdbServerCmd(flags: { 'data-dir'?: string; port?: string }): Promise<number> {
  const port = Number(flags.port ?? 8123)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new FundwatchError('BAD_REQUEST', `--port must be a port number (got ${flags.port})`)
  const { startChdbHttp } = await import('../store/chdb-http.ts')
  const config = configFromEnv(process.env, { dataDir: flags['data-dir'] })
  const srv = await startChdbHttp({ dataDir: config.dataDir, port })
  console.log(`ClickHouse HTTP over chDB (${config.dataDir}) at ${srv.url} — set CLICKHOUSE_URL=${srv.url} for the other processes`)
  const ac = stopSignal()
  await new Promise((r) => ac.signal.addEventListener('abort', r, { once: true }))
  await srv.close()
  return 0
}
