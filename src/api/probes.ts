import type { FastifyInstance, FastifyReply } from 'fastify'
import type { App } from '../app.ts'

/**
 * The probes a platform asks every role (docs/operations.md § Probes):
 *
 * - `/livez` — the process is alive and its event loop turns. It answers
 *   from memory and touches nothing else, so it never fails because the
 *   store or Kafka is down: restarting a process does not bring a
 *   dependency back, and restarting every replica in an outage turns one
 *   failure into two. A blocked loop cannot answer at all, which is what the
 *   kubelet's probe timeout measures.
 * - `/readyz` — the role can do its work now: the store answers (every role),
 *   and, for a processor, it is a member of its consumer group (with
 *   partitions, or waiting for an assignment). 503 with the failing checks
 *   named, never the error text (the route is public; the log has the cause).
 * - `/healthz` — kept as an alias of `/readyz` for existing scrapers and
 *   load balancers.
 */
export const PROBE_PATHS = ['/livez', '/readyz', '/healthz'] as const

/** One thing readiness waits for: `undefined` when ready, else a short public reason. */
export interface ReadinessCheck {
  name: string
  check(): Promise<string | undefined> | string | undefined
}

/**
 * How long one check may take. A store that hangs (a partition, not a
 * refusal) must read as not ready before the kubelet's own probe timeout
 * (the manifests use 5 s), or the probe is a timeout instead of an answer.
 */
export const CHECK_TIMEOUT_MS = 2_000

/** The store answers `SELECT 1`: every role needs it. */
export function storeCheck(app: App): ReadinessCheck {
  return {
    name: 'store',
    async check() {
      await app.store.query('SELECT 1')
      return undefined
    },
  }
}

export interface Readiness {
  ready: boolean
  store: string
  kb: string
  /** Each check's name → `ok` or why it is not ready. */
  checks: Record<string, string>
}

/** Runs the checks side by side, each bounded by CHECK_TIMEOUT_MS; logs a check only when its state changes. */
export function readiness(app: App, checks: readonly ReadinessCheck[], timeoutMs = CHECK_TIMEOUT_MS): () => Promise<Readiness> {
  const last = new Map<string, string>()
  const log = app.log.child({ component: 'probe' })
  return async () => {
    const results = await Promise.all(checks.map(async (c) => {
      let timer: NodeJS.Timeout | undefined
      try {
        const timeout = new Promise<string>((resolve) => { timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs) })
        return [c.name, (await Promise.race([Promise.resolve(c.check()), timeout])) ?? 'ok', undefined] as const
      } catch (err) {
        return [c.name, 'unavailable', err as Error] as const
      } finally {
        clearTimeout(timer)
      }
    }))
    for (const [name, state, err] of results) {
      // Silent while a check passes from the start: the log records changes only.
      if ((last.get(name) ?? 'ok') === state) continue
      last.set(name, state)
      if (state === 'ok') log.info({ check: name }, 'readiness check passes again')
      else log.warn({ check: name, state, err: err ? { type: err.name, message: err.message.slice(0, 500) } : undefined }, 'readiness check fails')
    }
    return {
      ready: results.every(([, state]) => state === 'ok'),
      store: app.store.embedded ? 'chdb' : 'clickhouse',
      kb: app.kb().version,
      checks: Object.fromEntries(results.map(([name, state]) => [name, state])),
    }
  }
}

/**
 * Registers the three probe routes on `f` (the API server or a processor's
 * probe server), public and outside the rate limit: a probe refused with a
 * 429 would restart a healthy pod.
 */
export function probeRoutes(f: FastifyInstance, app: App, checks: readonly ReadinessCheck[]): void {
  const ready = readiness(app, checks)
  const started = Date.now()
  f.get('/livez', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => {
    reply.header('cache-control', 'no-store')
    return { status: 'ok', uptime_s: Math.round((Date.now() - started) / 1000) }
  })
  const readyHandler = async (_req: unknown, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store')
    const r = await ready()
    reply.status(r.ready ? 200 : 503)
    return { status: r.ready ? 'ok' : 'unavailable', store: r.store, kb: r.kb, checks: r.checks }
  }
  f.get('/readyz', { config: { public: true }, schema: { hide: true } }, readyHandler)
  f.get('/healthz', { config: { public: true }, schema: { hide: true } }, readyHandler)
}
