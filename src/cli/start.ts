import { buildServer, createLiveFeed } from '../api/server.ts'
import { runAudit } from '../audit/runner.ts'
import { bootstrapAdmin } from '../auth/bootstrap.ts'
import { createGenerator, type Generator } from '../generator/generate.ts'
import { MsgIds } from '../generator/world.ts'
import { KnowledgeBase } from '../kb/knowledge-base.ts'
import { generatorSource } from '../pipeline/sources.ts'
import { DAY_MS, cnDayStart } from '../util/time.ts'
import { appFromFlags, stopSignal, type CommonFlags } from './common.ts'

/** The history `fundwatch start` (npm start) generates and replays before the live stream; the bench backtests it. */
export const DEMO_HISTORY = { persons: 600, days: 40, fraudRate: 0.03 } as const

/**
 * The embedded default: one process, every role. A short generated history is
 * replayed as fast as it goes and audited (so every detector, streaming and
 * audit, has something to show within seconds), then a live stream continues
 * at a steady rate until stopped.
 */
export async function start(flags: CommonFlags & { port?: string; rate?: string; seed?: string }): Promise<number> {
  const app = await appFromFlags(flags, { port: flags.port })
  const live = createLiveFeed(app)
  const server = await buildServer(app, { live })
  const ac = stopSignal()
  ac.signal.addEventListener('abort', () => void server.close())
  const address = await server.listen({ port: app.config.port, host: app.config.host })
  // The admin token exists only on first start and is printed here once, never
  // logged; it rides in the URL fragment, which browsers do not send to servers.
  const token = await bootstrapAdmin(app)
  console.log([
    `fundwatch is running at ${address}`,
    token ? `  console  ${address}/#token=${token}\n           (first start: an admin was created; this link is shown once — keep it, or create users with \`fundwatch users create\`)` : `  console  ${address}/  (log in with your token)`,
    `  API      ${address}/api/v1/alerts  (Authorization: Bearer <token>; OpenAPI at ${address}/docs)`,
    `  metrics  ${address}/metrics`,
    `  data     ${app.store.embedded ? `chDB in ${app.config.dataDir}` : 'ClickHouse server'}`,
  ].join('\n'))
  const rate = Number(flags.rate ?? 300)
  const seed = Number(flags.seed ?? Date.now() % 100_000)
  const base = app.kb().data
  // The generator registers its made-up persons in the knowledge base (gender,
  // birth date, 门诊慢特病, death): the detectors must see them as the platform would.
  const persons = new Map(base.persons.map((p) => [p.psn_no, p]))
  const withPersons = (g: Generator) => {
    for (const p of g.persons) persons.set(p.psn_no, p)
    app.setKb(new KnowledgeBase({ ...base, persons: [...persons.values()] }, app.kb().version))
    return g
  }
  try {
    // One event-id allocator for the history and every round: the rounds cover the same hours of the same
    // store, and an id met twice would be taken for a redelivery (or a conflict) instead of a new event.
    const msgIds = new MsgIds(seed)
    const history = withPersons(createGenerator({ seed, ...DEMO_HISTORY, startTime: Date.now() - (DEMO_HISTORY.days + 1) * DAY_MS, kb: base, msgIds }))
    const h = await app.pipeline({ alertSinks: [live.sink] }).run(generatorSource(history.events(), { batchSize: 1000 }), ac.signal)
    // The audit (事后) stage over the history, as a nightly `fundwatch audit` would run it in production.
    const end = cnDayStart(Date.now())
    const audit = await runAudit(app, { from: end - 40 * DAY_MS, to: end, sinks: [live.sink] })
    app.log.info({ events: h.events, alerts: h.alerts, audit_alerts: audit.alerts.length, audit_errors: audit.errors.length }, 'generated history replayed and audited; live stream follows')
    for (let round = 1; !ac.signal.aborted; round++) {
      msgIds.forgetBefore(Date.now() - 3 * DAY_MS)
      const stream = withPersons(createGenerator({ seed: seed + round, persons: 2000, days: 1, startTime: Date.now() - DAY_MS, fraudRate: 0.01, kb: base, msgIds }))
      await app.pipeline({ alertSinks: [live.sink] }).run(generatorSource(stream.events(), { ratePerSec: rate, batchSize: app.config.batchSize, lingerMs: app.config.batchLingerMs }), ac.signal)
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err
  } finally {
    live.close()
    await server.close()
    await app.close()
  }
  return 0
}
