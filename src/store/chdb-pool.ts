import type { createClient } from '@clickhouse/client'
import { inlineParams } from './literals.ts'

type Connection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>

/**
 * Several chDB connections to one data directory, as the one connection
 * `@clickhouse/client` takes. A chDB connection runs one query at a time; the
 * connections of one process share one engine and its data, and run side by
 * side (chdb's Session: "same-path sessions run in parallel"). So a pre-check's
 * reads, fired together, run together, and the next batch's state reads do not
 * wait behind the insert of the one before — as they already do against a
 * ClickHouse server, where every request is its own. Each call goes to the
 * connection with the fewest calls in flight (the first such, so a quiet
 * process keeps using one).
 *
 * chDB runs its parameterised queries one at a time in the whole process
 * (chdb 3.4 serialises its own parameter binding: the parameter state is not
 * isolated between connections). So the parameters are bound here, in the SQL
 * text, the way a ClickHouse server binds them (literals.ts); a query whose
 * values literals.ts does not take goes to chDB's binding as it came.
 *
 * Nothing fundwatch sends depends on a connection's session state: the same
 * SQL runs over HTTP, where consecutive requests share none either.
 */
export function chdbPool(connections: readonly Connection[]): Connection {
  if (connections.length === 0) throw new Error('chdbPool: no connections')
  const busy = connections.map(() => 0)
  const on = async <T>(call: (c: Connection) => Promise<T>): Promise<T> => {
    let i = 0
    for (let j = 1; j < busy.length; j++) if (busy[j]! < busy[i]!) i = j
    busy[i]!++
    try {
      return await call(connections[i]!)
    } finally {
      busy[i]!--
    }
  }
  return {
    ping: (p) => on((c) => c.ping(p)),
    query: (p) => on((c) => c.query(bound(p))),
    insert: (p) => on((c) => c.insert(p)),
    command: (p) => on((c) => c.command(bound(p))),
    exec: (p) => on((c) => c.exec(bound(p))),
    close: async () => {
      await Promise.all(connections.map((c) => c.close()))
    },
  }
}

/** ClickHouse's default max_query_size: the parser reads at most this many bytes of a statement. */
const MAX_QUERY_SIZE = 262_144

/**
 * The call with its parameters bound in its SQL, when literals.ts takes them
 * all. Bound values count toward the statement's size, as parameters do not:
 * a long one (an admission lookup's keys, up to 512 KiB) raises the parser's
 * limit for that statement.
 */
function bound<P extends { query: string; query_params?: Record<string, unknown>; clickhouse_settings?: Record<string, unknown> }>(p: P): P {
  if (!p.query_params || Object.keys(p.query_params).length === 0) return p
  const query = inlineParams(p.query, p.query_params)
  if (query === undefined) return p
  const size = Buffer.byteLength(query)
  if (size < MAX_QUERY_SIZE / 2) return { ...p, query, query_params: {} }
  return { ...p, query, query_params: {}, clickhouse_settings: { ...p.clickhouse_settings, max_query_size: String(2 * size) } }
}
