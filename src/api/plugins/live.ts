import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import type { Alert } from '../../../schemas/index.ts'
import type { App } from '../../app.ts'
import { canSee, STAFF, type Principal } from '../../auth/principal.ts'
import type { AlertSink } from '../../pipeline/types.ts'
import type { StoredAlert } from '../../store/alerts.ts'
import { alertItem, guardAlert, isDegraded, who, type ApiDeps, type LiveFeed } from '../context.ts'
import { AlertItem, Workflow } from '../schemas.ts'

interface Client {
  principal: Principal
  write(chunk: string): void
  close(): void
}

/** A client further behind than this is cut off; it reconnects and reloads the feed. */
const MAX_BUFFERED = 1 << 20
const PING_MS = 15_000
/** Open streams one token may hold (a console tab holds one). */
export const STREAMS_PER_TOKEN = 5

export type { LiveFeed } from '../context.ts'

export interface LiveFeedOptions {
  /** Open streams per token; one more is refused with 429 (default STREAMS_PER_TOKEN). */
  streamsPerToken?: number
}


/**
 * The live feed over Server-Sent Events. The pipeline publishes alerts after
 * they are stored; each connected client receives those in its scope, encoded
 * through the same AlertItem schema as the feed (so evidence is masked the
 * same way). Each revision of an alert is pushed at most once per process lifetime
 * window, which absorbs the re-publication of a replayed batch; a withdrawal
 * or an update is pushed as the alert's next revision.
 */
export function createLiveFeed(app: App, opts: LiveFeedOptions = {}): LiveFeed {
  const perToken = opts.streamsPerToken ?? STREAMS_PER_TOKEN
  const clients = new Set<Client>()
  let deps: ApiDeps | undefined
  const recent = new Map<string, number>() // alert_id → revision last pushed

  const send = (event: string, data: unknown, place: { fixmedins_code: string; admdvs: string }, id?: string) => {
    const chunk = `${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
    for (const c of clients) if (canSee(c.principal, place)) c.write(chunk)
  }

  const sink: AlertSink = {
    name: 'live-feed',
    async publish(alerts: readonly Alert[]) {
      if (!deps || clients.size === 0) return
      const names = await deps.directory.names()
      for (const alert of alerts) {
        // A refined finding (later event_time) is news; the same one replayed is not.
        if ((recent.get(alert.alert_id) ?? 0) >= alert.revision) continue
        recent.set(alert.alert_id, alert.revision)
        if (recent.size > 50_000) recent.delete(recent.keys().next().value!)
        const stored: StoredAlert = { alert, admdvs: app.kb().institutions.get(alert.subject.fixmedins_code)?.admdvs ?? '' }
        // An alert that does not fit the response schema is logged and not pushed
        // (the feed shows it degraded); a throw here would stall the pipeline's sink.
        const checked = guardAlert(deps, alertItem(deps, stored, undefined, names))
        if (isDegraded(checked)) continue
        const item = z.encode(AlertItem, checked)
        send('alert', item, { fixmedins_code: alert.subject.fixmedins_code, admdvs: stored.admdvs }, alert.alert_id)
      }
    },
  }

  const revalidate = async (): Promise<number> => {
    if (!deps) return 0
    let ended = 0
    for (const id of new Set([...clients].map((c) => c.principal.id))) {
      if (await deps.users.isActive(id)) continue
      for (const c of [...clients]) if (c.principal.id === id) { c.close(); ended++ }
    }
    return ended
  }
  const ping = setInterval(() => {
    for (const c of clients) c.write(': ping\n\n')
    revalidate().catch((err: unknown) => app.log.warn({ err: { message: (err as Error).message } }, 'live feed: checking tokens failed; streams kept until the next ping'))
  }, PING_MS)
  ping.unref()

  const plugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, opts) => {
    deps = opts.deps
    f.get('/api/v1/alerts/stream', {
      config: { roles: STAFF, tokenInQuery: true },
      // A HEAD of a stream that never ends tells nothing.
      exposeHeadRoute: false,
      schema: {
        tags: ['alerts'], summary: 'Live feed (text/event-stream): `alert` and `workflow` events in the caller\'s scope',
        querystring: z.object({ access_token: z.string().max(100).optional() }).strict(),
      },
    }, async (req, reply) => {
      const principal = who(req)
      const open = [...clients].filter((c) => c.principal.id === principal.id).length
      if (open >= perToken) return reply.status(429).send({ error: 'RATE_LIMITED', message: `at most ${perToken} open streams per token; close one first` })
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store, no-transform',
        connection: 'keep-alive', 'x-accel-buffering': 'no', 'x-content-type-options': 'nosniff',
      })
      const client: Client = {
        principal,
        write(chunk) {
          if (res.writableLength > MAX_BUFFERED) return client.close()
          res.write(chunk)
        },
        close() {
          clients.delete(client)
          res.end()
        },
      }
      clients.add(client)
      res.write('retry: 3000\n: connected\n\n')
      req.raw.on('close', () => clients.delete(client))
    })
  }

  return {
    sink,
    plugin,
    publishWorkflow(a, workflow) {
      send('workflow', { alert_id: a.alert.alert_id, workflow: z.encode(Workflow, workflow) }, { fixmedins_code: a.alert.subject.fixmedins_code, admdvs: a.admdvs })
    },
    clients: () => clients.size,
    closeUser(userId) {
      for (const c of [...clients]) if (c.principal.id === userId) c.close()
    },
    revalidate,
    close() {
      clearInterval(ping)
      for (const c of [...clients]) c.close()
    },
  }
}
