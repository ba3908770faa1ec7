import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import { FundwatchError } from '../errors.ts'
import type { Store } from './store.ts'

export interface LockOptions {
  /** How long a holder keeps the lock without renewing it; a crashed migrator's lock is taken over after this. */
  leaseMs?: number
  /** How long to wait for another migrator before giving up with MIGRATION_LOCKED. */
  waitMs?: number
  pollMs?: number
  /** Who holds it, for the error a waiter sees. */
  holder?: string
}

export interface Lease {
  generation: number
  /** Extends the lease (at most every third of it); the migrator calls it between statements. */
  renew(): Promise<void>
}

/**
 * The migration lock, one row per event in schema_migrations_lock. Taking it
 * is an insert of generation g+1 under the deduplication token `acquire:g+1`:
 * of two migrators that both saw generation g free, ClickHouse keeps the first
 * block and drops the other (in Keeper on a cluster, so across nodes), and
 * each reads back whose row stands. The same mechanism as the review
 * workflow's optimistic concurrency (src/review/service.ts), so it holds
 * wherever that does. A lease bounds how long a crashed holder blocks others.
 *
 * The token is written into the SQL (an integer we computed, never input), not
 * sent as a URL setting, so it reaches chDB behind `fundwatch chdb-server` too.
 */
export async function withMigrationLock<T>(store: Store, opts: LockOptions, fn: (lease: Lease) => Promise<T>): Promise<T> {
  const leaseMs = opts.leaseMs ?? 10 * 60_000
  const waitMs = opts.waitMs ?? 15 * 60_000
  const pollMs = opts.pollMs ?? 1000
  const holder = `${opts.holder ?? `${hostname()}:${process.pid}`}:${randomUUID().slice(0, 8)}`
  const table = store.t('schema_migrations_lock')
  const deadline = Date.now() + waitMs
  const read = store.consistency.read
  const write = store.consistency.write

  const insert = (generation: number, kind: 'acquire' | 'renew' | 'release', token: string) => store.command(
    `INSERT INTO ${table} SETTINGS insert_deduplicate = 1, insert_deduplication_token = '${token}'
      SELECT {g:UInt64}, {kind:String}, {holder:String}, now64(3), now64(3) + toIntervalMillisecond({lease:UInt64})`,
    { g: generation, kind, holder, lease: kind === 'release' ? 0 : leaseMs }, write)

  for (;;) {
    const [latest] = await store.query<{ generation: string; holder: string; released: string; expired: string; expires: string }>(
      `SELECT generation, argMinIf(holder, at, kind = 'acquire') AS holder, countIf(kind = 'release') AS released,
         max(expires_at) < now64(3) AS expired, toString(max(expires_at)) AS expires
       FROM ${table} GROUP BY generation ORDER BY generation DESC LIMIT 1`, {}, read)
    const g = latest ? Number(latest.generation) : 0
    if (!latest || Number(latest.released) > 0 || Number(latest.expired) === 1) {
      const next = g + 1
      await insert(next, 'acquire', `acquire:${next}`)
      const [won] = await store.query<{ holder: string }>(
        `SELECT argMin(holder, at) AS holder FROM ${table} WHERE generation = {g:UInt64} AND kind = 'acquire'`, { g: next }, read)
      if (won?.holder === holder) {
        let renewals = 0
        let renewed = Date.now()
        const lease: Lease = {
          generation: next,
          async renew() {
            if (Date.now() - renewed < leaseMs / 3) return
            renewed = Date.now()
            await insert(next, 'renew', `renew:${next}:${++renewals}`)
          },
        }
        try {
          return await fn(lease)
        } finally {
          await insert(next, 'release', `release:${next}`).catch(() => undefined)
        }
      }
      continue // another migrator took it; look again
    }
    if (Date.now() >= deadline) {
      throw new FundwatchError('MIGRATION_LOCKED', `another migrator (${latest.holder}) holds the migration lock until ${latest.expires} UTC; waited ${Math.round(waitMs / 1000)} s`)
    }
    await new Promise((r) => setTimeout(r, pollMs))
  }
}
