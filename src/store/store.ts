import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import type * as ChdbConnection from 'chdb/connection'
import { Readable } from 'node:stream'
import { FundwatchError } from '../errors.ts'
import { CLUSTER_NAME } from './cluster.ts'
import { chdbPool } from './chdb-pool.ts'
import { InsertSpool, spoolBase } from './spool.ts'

export interface StoreOptions {
  /** http(s)://user:pass@host:8123 of a ClickHouse server; unset = embedded chDB. */
  url?: string
  /** chDB data directory (embedded mode). */
  dataDir?: string
  /** Database holding fundwatch's tables; tests use one per file. */
  database: string
  /** ClickHouse cluster name (FUNDWATCH_CLUSTER): migrations run ON CLUSTER, writes and reads take the cluster settings below. */
  cluster?: string
  /** Embedded mode: chDB connections to the data directory, each running one query at a time (chdb-pool.ts); default CHDB_CONNECTIONS. */
  connections?: number
}

/**
 * Embedded chDB connections (chdb-pool.ts). chDB runs a query per connection
 * at a time, and its parameterised queries one at a time in the whole process
 * (its parameter binding is not yet safe across connections), so what runs
 * side by side is the inserts, with each other and with the reads. Four keep
 * a connection free for the next batch's state reads while a batch's inserts
 * (ingest, alerts, and the rest) are running: `bench pipeline` on 300k lines,
 * 2 interleaved pairs, 1.17× and 1.22× fee lines/s against one connection;
 * two connections gain nothing (the inserts take both), eight no more than four.
 */
export const CHDB_CONNECTIONS = 4

/**
 * The embedded engine's server configuration, given to the first connection
 * that opens a data directory (chDB starts one engine per process, configured
 * by its first connection's arguments). ClickHouse's defaults are a server's,
 * sized for a machine of its own, and in a processor they let memory grow:
 * - the global thread pool keeps up to 1,000 idle threads, each holding the
 *   stack and malloc caches it used. One burst (several of its pools may
 *   take 100 threads or more at once: part cleaning, part removal, reads)
 *   took a soak's replay from 33 pool threads to 132 at 1.28M records, for
 *   good, and RSS outside V8 and glibc's arenas up 80 MB with them
 *   (docs/design.md). Here 32 idle threads stay; the rest exit, and a later
 *   burst starts new ones;
 * - the mark cache and the skip-index mark cache may each hold 5 GiB. A
 *   processor's point reads use a few MiB (at most 6 MiB in the 11M-record
 *   soak), so they are bounded at 128 and 32 MiB: what chDB may keep stays
 *   well inside a pod's memory limit (docs/operations.md).
 */
export const CHDB_SERVER_ARGS: readonly string[] = [
  '--max_thread_pool_free_size=32',
  '--mark_cache_size=134217728',
  '--index_mark_cache_size=33554432',
]

/**
 * The embedded engine. chdb/connection is CommonJS with a native addon (half a
 * gigabyte): loaded only in embedded mode, and absent from the server-mode
 * image (deploy/Dockerfile), whose roles reach ClickHouse over HTTP.
 */
export async function loadChdb(): Promise<typeof ChdbConnection> {
  try {
    return await import('chdb/connection')
  } catch (cause) {
    if ((cause as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw cause
    throw new FundwatchError('CONFIG_INVALID', 'embedded chDB is not installed here (the server-mode image leaves it out): set CLICKHOUSE_URL to a ClickHouse server, or use the embedded image', { cause })
  }
}

/**
 * A connection to `dataDir` opened with CHDB_SERVER_ARGS, held for as long as
 * the store: when it is the process's first, the engine starts with them.
 * When the engine is already running (another store on the same directory)
 * chDB ignores the arguments, and the engine keeps what it started with.
 */
async function openEngine(dataDir: string): Promise<{ close(): void }> {
  const { Session } = await import('chdb')
  return new Session(dataDir, { connectionArgs: CHDB_SERVER_ARGS })
}

/**
 * On a cluster, behind a load balancer, consecutive queries of one request
 * may reach different replicas. The review workflow reads what it just wrote
 * (its conflict check, the state it answers with), so its writes wait for a
 * majority of replicas (insert_quorum) and its reads refuse to answer from a
 * replica that lacks a quorum-acknowledged write (select_sequential_consistency,
 * which needs insert_quorum_parallel off). On one node both are empty.
 */
export interface Consistency {
  write: ClickHouseSettings
  read: ClickHouseSettings
}
const QUORUM: Consistency = {
  write: { insert_quorum: 'auto', insert_quorum_parallel: 0 },
  read: { select_sequential_consistency: '1' },
}
/**
 * Every query on a cluster: inserts through a Distributed table reach their
 * shards before the insert returns (the pipeline commits offsets only after
 * the store has its rows); `x IN (SELECT … FROM distributed)` inside a
 * distributed query runs the subquery once and ships the result (GLOBAL),
 * instead of being refused; a filter on the sharding key reads its shards only.
 */
const CLUSTER_SETTINGS: ClickHouseSettings = { insert_distributed_sync: 1, distributed_product_mode: 'global', optimize_skip_unused_shards: 1 }

/**
 * Decimals (money) come back as strings, never as JSON numbers a reader would
 * parse into binary floating point (src/util/money.ts does the arithmetic).
 */
const READ_SETTINGS = { output_format_json_quote_decimals: 1 } as const

/**
 * The one way fundwatch talks to ClickHouse: `@clickhouse/client`, pointed at a
 * server or at the in-process chDB engine. Same SQL, same client, both modes.
 * Every query is parameterised ({name:Type}); nothing is string-built from input.
 * (Embedded, the parameters are bound in the SQL text as a server binds them:
 * chdb-pool.ts, literals.ts.)
 */
export class Store {
  readonly db: string
  readonly embedded: boolean
  readonly cluster: string | undefined
  /** Settings for the review workflow's writes and the reads that follow them (see Consistency). */
  readonly consistency: Consistency

  /** Embedded mode: where inserts stage their rows for file() (see insert). */
  private readonly spool: InsertSpool | undefined

  /** Embedded mode with a data directory: the connection that started the engine with CHDB_SERVER_ARGS. */
  private engine: { close(): void } | undefined

  private constructor(readonly client: ClickHouseClient, opts: StoreOptions) {
    this.db = opts.database
    this.embedded = !opts.url
    this.cluster = opts.cluster
    this.consistency = opts.cluster ? QUORUM : { write: {}, read: {} }
    const base = this.embedded ? spoolBase() : undefined
    this.spool = base === undefined ? undefined : new InsertSpool(base)
  }

  static async open(opts: StoreOptions): Promise<Store> {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/.test(opts.database)) throw new FundwatchError('CONFIG_INVALID', `database name "${opts.database}" is not a plain identifier`)
    if (opts.cluster !== undefined && !CLUSTER_NAME.test(opts.cluster)) throw new FundwatchError('CONFIG_INVALID', `cluster name "${opts.cluster}" is not a plain identifier`)
    if (opts.cluster && !opts.url) throw new FundwatchError('CONFIG_INVALID', 'a ClickHouse cluster (FUNDWATCH_CLUSTER) needs CLICKHOUSE_URL; embedded chDB is one node')
    let client: ClickHouseClient
    let engine: { close(): void } | undefined
    if (opts.url) {
      // The client's own error log is off: every failure is wrapped in a
      // FundwatchError and logged (or retried) by the caller, once.
      client = createClient({ url: opts.url, request_timeout: 60_000, log: { level: ClickHouseLogLevel.OFF }, clickhouse_settings: { date_time_input_format: 'best_effort', ...(opts.cluster ? CLUSTER_SETTINGS : {}) } })
    } else {
      const { createChdbConnection } = await loadChdb()
      // chdb types its Connection against @clickhouse/client-common, which the
      // client now bundles as its own copy: same shape, distinct declarations.
      const path = opts.dataDir ?? ':memory:'
      // Opened first, so that the engine starts with our configuration (':memory:' is chdb's own directory: its defaults).
      engine = opts.dataDir === undefined ? undefined : await openEngine(opts.dataDir)
      try {
        const connections = Array.from({ length: Math.max(1, opts.connections ?? CHDB_CONNECTIONS) }, () => createChdbConnection({ path }) as unknown as NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>)
        client = createClient({ connection: chdbPool(connections) })
      } catch (err) {
        engine?.close()
        throw err
      }
    }
    const store = new Store(client, opts)
    store.engine = engine
    // On a cluster the migrator creates it on every node (migrate).
    if (!opts.cluster) await store.command(`CREATE DATABASE IF NOT EXISTS ${opts.database}`)
    return store
  }

  /** Embedded mode: the directory inserts stage their files in (made by the first insert); undefined in server mode. */
  get spoolDir(): string | undefined {
    return this.spool?.directory
  }

  /** Table name qualified with the store's database. */
  t(table: string): string {
    return `${this.db}.${table}`
  }

  async query<T>(query: string, params: Record<string, unknown> = {}, settings: ClickHouseSettings = {}): Promise<T[]> {
    try {
      const rs = await this.client.query({ query, query_params: params, format: 'JSONEachRow', clickhouse_settings: { ...READ_SETTINGS, ...settings } })
      return await rs.json<T>()
    } catch (cause) {
      throw new FundwatchError('STORE_QUERY_FAILED', `query failed: ${(cause as Error).message}`, { cause })
    }
  }

  async command(query: string, params: Record<string, unknown> = {}, settings: ClickHouseSettings = {}): Promise<void> {
    try {
      await this.client.command({ query, query_params: params, clickhouse_settings: settings })
    } catch (cause) {
      throw new FundwatchError('STORE_QUERY_FAILED', `command failed: ${(cause as Error).message}`, { cause })
    }
  }

  /**
   * Server mode: the client's HTTP insert, rows as JSONEachRow. Embedded mode:
   * the same JSONEachRow bytes are written to a per-insert file in a RAM-backed
   * directory (spool.ts) and chDB reads them with
   * `INSERT INTO t SETTINGS … SELECT * FROM file(path, JSONEachRow)` — the rows
   * take the table's own structure and column defaults, as an inline insert's
   * do. The inline form (`INSERT … FORMAT JSONEachRow` + the body) makes chDB
   * copy and parse the whole batch as one SQL string on the calling thread.
   * `settings` (deduplication tokens, quorum) go in the statement's SETTINGS
   * clause, so they hold for this insert only: the client's embedded connection
   * sends them as session-wide `SET`s, which outlive the insert.
   */
  async insert(table: string, rows: readonly object[], settings: ClickHouseSettings = {}): Promise<void> {
    if (rows.length === 0) return
    try {
      if (this.spool) {
        let body = ''
        for (const r of rows) body += `${JSON.stringify(r)}\n`
        const clause = settingsClause(settings)
        if (await this.spool.with(table, body, (path) => this.client.command({ query: `INSERT INTO ${this.t(table)}${clause} SELECT * FROM file('${path}', JSONEachRow)` }).then(() => {}))) return
        // The file could not be written (the directory full): the rows go inline,
        // still with the settings in the statement, never as session-wide SETs.
        await this.client.command({ query: `INSERT INTO ${this.t(table)}${clause} FORMAT JSONEachRow\n${body}` })
        return
      }
      await this.client.insert({ table: this.t(table), values: rows as object[], format: 'JSONEachRow', clickhouse_settings: settings })
    } catch (cause) {
      throw new FundwatchError('STORE_INSERT_FAILED', `insert into ${table} failed: ${(cause as Error).message}`, { cause })
    }
  }

  /**
   * Inserts text already in a ClickHouse input format (`format`, e.g.
   * TabSeparated) with the given column list — the way the pipeline writes
   * the bytes it received to `ingest` without building a row object per
   * event. Embedded: through a spool file, as insert; server: the text is
   * the HTTP insert's body.
   */
  async insertText(table: string, body: string | Buffer, format: 'TabSeparated', structure: string, settings: ClickHouseSettings = {}): Promise<void> {
    if (body.length === 0) return
    // "name Type, name Type(a, b), …" → the names (a comma inside a type's parentheses does not split).
    const columns = structure.split(/,\s*(?![^(]*\))/).map((c) => c.trim().split(/\s+/)[0]!)
    try {
      if (this.spool) {
        const clause = settingsClause(settings)
        const into = `INSERT INTO ${this.t(table)} (${columns.join(', ')})${clause}`
        if (await this.spool.with(table, body, (path) => this.client.command({ query: `${into} SELECT * FROM file('${path}', ${format}, '${structure.replace(/'/g, "\\'")}')` }).then(() => {}))) return
        await this.client.command({ query: `${into} FORMAT ${format}\n${body.toString()}` })
        return
      }
      await this.client.insert({ table: this.t(table), values: Readable.from([typeof body === 'string' ? Buffer.from(body) : body], { objectMode: false }), format, columns: columns as [string, ...string[]], clickhouse_settings: settings })
    } catch (cause) {
      throw new FundwatchError('STORE_INSERT_FAILED', `insert into ${table} failed: ${(cause as Error).message}`, { cause })
    }
  }

  async close(): Promise<void> {
    this.spool?.close()
    await this.client.close()
    this.engine?.close()
    this.engine = undefined
  }
}

/** ` SETTINGS k = v, …` for a statement: names are identifiers, strings are quoted literals. */
function settingsClause(settings: ClickHouseSettings): string {
  const parts: string[] = []
  for (const [k, v] of Object.entries(settings)) {
    if (v === undefined) continue
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new FundwatchError('CONFIG_INVALID', `setting name "${k}" is not an identifier`)
    const value = typeof v === 'number' ? String(v) : typeof v === 'boolean' ? (v ? '1' : '0') : `'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
    parts.push(`${k} = ${value}`)
  }
  return parts.length ? ` SETTINGS ${parts.join(', ')}` : ''
}
