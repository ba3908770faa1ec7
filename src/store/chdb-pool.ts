import type { createClient } from '@clickhouse/client'

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
 * Nothing fundwatch sends depends on a connection's session state: the same
 * SQL runs over HTTP, where consecutive requests share none either.
 */
export function chdbPool(connections: readonly Connection[]): Connection {
  if (connections.length === 0) throw new Error('chdbPool: no connections')
  if (connections.length === 1) return connections[0]!
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
    query: (p) => on((c) => c.query(p)),
    insert: (p) => on((c) => c.insert(p)),
    command: (p) => on((c) => c.command(p)),
    exec: (p) => on((c) => c.exec(p)),
    close: async () => {
      await Promise.all(connections.map((c) => c.close()))
    },
  }
}
