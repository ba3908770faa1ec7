import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { z } from 'zod'
import { FixmedinsCode } from '../../schemas/common.ts'
import { FundwatchError } from '../errors.ts'
import type { Store } from '../store/store.ts'
import { chTime } from '../util/time.ts'
import { Role, scopeWithin, type Principal } from './principal.ts'

/** 32 random bytes, base64url: shown once to whoever created it, never stored. */
export function newToken(): string {
  return randomBytes(32).toString('base64url')
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

export const NewUser = z.object({
  name: z.string().trim().min(1).max(80).describe('Who holds the token (a person or a system)'),
  role: Role,
  admdvs: z.array(z.string().regex(/^\d{2,6}$/, 'admdvs: a region code prefix of 2–6 digits')).max(50).default([]),
  fixmedins_codes: z.array(FixmedinsCode).max(500).default([]),
}).strict()
export type NewUser = z.input<typeof NewUser>

export interface User extends Principal {
  created_at: string
  created_by: string
  revoked_at: string | null
}

interface UserRow {
  user_id: string
  name: string
  role: string
  admdvs: string[]
  fixmedins_codes: string[]
  token_sha256: string
  created_at: string
  created_by: string
  revoked_at: string | null
  version: number
}

const iso = (ch: string) => new Date(ch.replace(' ', 'T') + 'Z').toISOString()

function fromRow(r: UserRow): User {
  return {
    id: r.user_id, name: r.name, role: Role.parse(r.role), admdvs: r.admdvs, fixmedins_codes: r.fixmedins_codes,
    created_at: iso(r.created_at), created_by: r.created_by, revoked_at: r.revoked_at ? iso(r.revoked_at) : null,
  }
}

/** The active users, by token hash and by id, as of `at`. */
interface Snapshot {
  at: number
  byHash: Map<string, User>
  byId: Map<string, User>
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/

/**
 * Users and their hashed tokens. Every request authenticates, so tokens are
 * checked against an in-memory snapshot of the active users (one query
 * loads it whole), never one query per token:
 * - the snapshot is reloaded when older than `cacheMs` (5 s): a revocation on
 *   another replica or by the CLI takes effect within that; one through this
 *   instance at once;
 * - a token it does not hold may be new (created by the CLI or another
 *   replica), so a miss reloads it — but at most once per `missReloadMs`
 *   (1 s) however many unknown tokens arrive, and concurrent reloads share
 *   one query. A flood of made-up tokens therefore costs no store lookups,
 *   and every unknown token is answered the same way, from memory.
 */
export class Users {
  private snap: Snapshot | undefined
  private loading: Promise<Snapshot> | undefined
  /** Bumped by every change through this instance: a load begun before it is not kept. */
  private generation = 0

  constructor(private readonly store: Store, private readonly opts: { cacheMs?: number; missReloadMs?: number; now?: () => number } = {}) {}

  private get now(): number {
    return (this.opts.now ?? Date.now)()
  }

  async count(): Promise<number> {
    const r = await this.store.query<{ c: string }>(`SELECT count() AS c FROM ${this.store.t('users')} FINAL`)
    return Number(r[0]?.c ?? 0)
  }

  /** Creates a user and its token; the token is returned here and nowhere else. */
  async create(input: NewUser, by: { id: string } | 'cli', check?: { within: Pick<Principal, 'admdvs' | 'fixmedins_codes'>; admdvsOf: (code: string) => string | undefined }): Promise<{ user: User; token: string }> {
    const u = NewUser.parse(input)
    if (check && !scopeWithin(u, check.within, check.admdvsOf)) throw new FundwatchError('FORBIDDEN', 'the new user\'s scope must lie within your own')
    const token = newToken()
    const row: UserRow = {
      user_id: `u_${randomUUID().replaceAll('-', '').slice(0, 16)}`, name: u.name, role: u.role, admdvs: u.admdvs, fixmedins_codes: u.fixmedins_codes,
      token_sha256: hashToken(token), created_at: chTime(this.now), created_by: by === 'cli' ? 'cli' : by.id, revoked_at: null, version: 1,
    }
    await this.store.insert('users', [row])
    this.invalidate()
    return { user: fromRow(row), token }
  }

  async list(): Promise<User[]> {
    const rows = await this.store.query<UserRow>(`SELECT * FROM ${this.store.t('users')} FINAL ORDER BY created_at, user_id`)
    return rows.map(fromRow)
  }

  async get(id: string): Promise<User | undefined> {
    const rows = await this.store.query<UserRow>(`SELECT * FROM ${this.store.t('users')} FINAL WHERE user_id = {id:String}`, { id })
    return rows[0] ? fromRow(rows[0]) : undefined
  }

  async revoke(id: string): Promise<User | undefined> {
    const rows = await this.store.query<UserRow>(`SELECT * FROM ${this.store.t('users')} FINAL WHERE user_id = {id:String}`, { id })
    const r = rows[0]
    if (!r) return undefined
    if (r.revoked_at) return fromRow(r)
    const next = { ...r, revoked_at: chTime(this.now), version: Number(r.version) + 1 }
    await this.store.insert('users', [next])
    this.invalidate()
    return fromRow(next)
  }

  /** The active user holding this token, or undefined (malformed, unknown or revoked). */
  async authenticate(token: string): Promise<Principal | undefined> {
    if (!TOKEN.test(token)) return undefined
    const h = hashToken(token)
    let s = await this.snapshot(this.opts.cacheMs ?? 5_000)
    const missReload = this.opts.missReloadMs ?? 1_000
    if (!s.byHash.has(h) && this.now - s.at >= missReload) s = await this.snapshot(missReload)
    // A Map lookup on the token's SHA-256: no comparison runs on the secret itself.
    return s.byHash.get(h)
  }

  /** Whether the user is active (not revoked), as of the snapshot: for long-lived connections to re-check. */
  async isActive(id: string): Promise<boolean> {
    return (await this.snapshot(this.opts.cacheMs ?? 5_000)).byId.has(id)
  }

  private invalidate(): void {
    this.generation++
    this.snap = undefined
    this.loading = undefined
  }

  private snapshot(maxAgeMs: number): Promise<Snapshot> {
    const s = this.snap
    if (s && this.now - s.at < maxAgeMs) return Promise.resolve(s)
    if (!this.loading) {
      const p: Promise<Snapshot> = this.load().finally(() => { if (this.loading === p) this.loading = undefined })
      this.loading = p
    }
    return this.loading
  }

  private async load(): Promise<Snapshot> {
    const at = this.now
    const generation = this.generation
    const rows = await this.store.query<UserRow>(`SELECT * FROM ${this.store.t('users')} FINAL WHERE revoked_at IS NULL`)
    const byHash = new Map<string, User>()
    const byId = new Map<string, User>()
    for (const r of rows) {
      const u = fromRow(r)
      byHash.set(r.token_sha256, u)
      byId.set(u.id, u)
    }
    const snap = { at, byHash, byId }
    if (generation === this.generation) this.snap = snap
    return snap
  }
}
