import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
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

/**
 * Users and their hashed tokens. Token lookups are cached briefly because every
 * request makes one; a revoke through this instance drops the cache at once,
 * and other replicas see it within `cacheMs`.
 */
export class Users {
  private cache = new Map<string, { user: User | undefined; at: number }>()

  constructor(private readonly store: Store, private readonly opts: { cacheMs?: number; now?: () => number } = {}) {}

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
    this.cache.clear()
    return fromRow(next)
  }

  /** The active user holding this token, or undefined (unknown or revoked). */
  async authenticate(token: string): Promise<Principal | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined
    const h = hashToken(token)
    const hit = this.cache.get(h)
    if (hit && this.now - hit.at < (this.opts.cacheMs ?? 5_000)) return hit.user
    const rows = await this.store.query<UserRow>(`SELECT * FROM ${this.store.t('users')} FINAL WHERE token_sha256 = {h:String} LIMIT 1`, { h })
    const r = rows[0]
    // The equality already happened in SQL over hashes; compare again in constant
    // time so the process never branches on a partial match of a secret.
    const ok = r && timingSafeEqual(Buffer.from(r.token_sha256, 'hex'), Buffer.from(h, 'hex')) && !r.revoked_at
    const user = ok ? fromRow(r) : undefined
    if (this.cache.size > 10_000) this.cache.clear()
    this.cache.set(h, { user, at: this.now })
    return user
  }
}
