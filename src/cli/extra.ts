import { parseArgs } from 'node:util'
import { buildProbeServer } from '../api/http-metrics.ts'
import { buildServer, createLiveFeed } from '../api/server.ts'
import { createKafka, withAdmin } from '../kafka/admin.ts'
import { followAlerts } from '../kafka/follow.ts'
import { faultFromEnv, runProcessor } from '../kafka/processor.ts'
import { createTopics, topicNames } from '../kafka/topics.ts'
import { configFromEnv } from '../config.ts'
import { appFromFlags, fmtRate, stopSignal } from './common.ts'

/**
 * Commands of the other roles: the Kafka processor and topic management.
 * Kept apart so the main switch stays the map of the CLI.
 */
export async function extraCommand(cmd: string, args: string[]): Promise<number | undefined> {
  switch (cmd) {
    case 'run': {
      const { values } = parseArgs({ args, options: { kb: { type: 'string' }, rules: { type: 'string' }, 'data-dir': { type: 'string' }, port: { type: 'string' }, 'from-latest': { type: 'boolean' } } })
      const app = await appFromFlags(values, { port: values.port })
      const ac = stopSignal()
      // The processor serves /healthz and /metrics for its scrape target: with
      // METRICS_PORT those alone; else the whole API on PORT (0 = nothing).
      const probePort = app.config.metricsPort
      const server = probePort ? await buildProbeServer(app) : app.config.port ? await buildServer(app) : undefined
      if (server) await server.listen({ port: probePort ?? app.config.port, host: app.config.host })
      const t0 = performance.now()
      try {
        const s = await runProcessor(app, ac.signal, { fromBeginning: !values['from-latest'], fault: faultFromEnv(process.env.FUNDWATCH_FAULT) })
        const ms = performance.now() - t0
        app.log.info({ ...s, events_per_s: fmtRate(s.events, ms) }, 'processor stopped: stored batches committed, left the group')
        return 0
      } finally {
        await server?.close()
        await app.close()
      }
    }
    case 'topics': {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { partitions: { type: 'string' }, 'replication-factor': { type: 'string' }, 'retention-ms': { type: 'string' } } })
      if (positionals[0] !== 'create') {
        console.error('usage: fundwatch topics create [--partitions N] [--replication-factor N] [--retention-ms MS]')
        return 2
      }
      const config = configFromEnv()
      if (!config.kafkaBrokers) {
        console.error('KAFKA_BROKERS is not set')
        return 2
      }
      const kafka = createKafka({ brokers: config.kafkaBrokers })
      const r = await withAdmin(kafka, (admin) => createTopics(admin, {
        prefix: config.topicPrefix,
        partitions: values.partitions ? Number(values.partitions) : undefined,
        replicationFactor: values['replication-factor'] ? Number(values['replication-factor']) : undefined,
        retentionMs: values['retention-ms'] ? Number(values['retention-ms']) : undefined,
      }))
      console.log(JSON.stringify(r, null, 2))
      return 0
    }
    case 'serve': {
      // The API and console role alone (production: replicas behind a load
      // balancer, processors elsewhere). No generator, no pipeline.
      const { values } = parseArgs({ args, options: { kb: { type: 'string' }, rules: { type: 'string' }, 'data-dir': { type: 'string' }, port: { type: 'string' } } })
      const app = await appFromFlags(values, { port: values.port })
      const live = createLiveFeed(app)
      const server = await buildServer(app, { live })
      // The live feed of a replica apart from the processors: the alerts topic.
      const brokers = app.config.kafkaBrokers
      const follower = brokers
        ? followAlerts(createKafka({ brokers, clientId: `fundwatch-api-${process.pid}` }), topicNames(app.config.topicPrefix).alerts, live.sink, app.log, { groupPrefix: `${app.config.topicPrefix}fundwatch-live` })
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
    case 'audit':
      return (await import('./audit.ts')).auditCommand(args)
    case 'evaluate':
      return (await import('./evaluate.ts')).evaluateCommand(args)
    case 'users':
      return (await import('./users.ts')).usersCommand(args)
    case 'evidence':
      return (await import('./evidence.ts')).evidenceCommand(args)
    case 'chdb-server': {
      const { values } = parseArgs({ args, options: { 'data-dir': { type: 'string' }, port: { type: 'string' } } })
      const { startChdbHttp } = await import('../store/chdb-http.ts')
      const config = configFromEnv(process.env, { dataDir: values['data-dir'] })
      const srv = await startChdbHttp({ dataDir: config.dataDir, port: Number(values.port ?? 8123) })
      console.log(`ClickHouse HTTP over chDB (${config.dataDir}) at ${srv.url} — set CLICKHOUSE_URL=${srv.url} for the other processes`)
      const ac = stopSignal()
      await new Promise((r) => ac.signal.addEventListener('abort', r, { once: true }))
      await srv.close()
      return 0
    }
    default:
      return undefined
  }
}
