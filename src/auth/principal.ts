import { z } from 'zod'

export const ROLES = ['monitor', 'inspector', 'admin', 'precheck'] as const
export const Role = z.enum(ROLES).describe('monitor 智能监控审核, inspector 稽核/执法, admin 管理员, precheck 机构HIS事前提醒')
export type Role = z.infer<typeof Role>

/** Roles that work the alert feed. precheck (a hospital HIS) never sees it. */
export const STAFF: readonly Role[] = ['monitor', 'inspector', 'admin']
/** Roles that build cases and handle evidence. */
export const CASEWORK: readonly Role[] = ['inspector', 'admin']

/** Who is calling, resolved from a bearer token. */
export interface Principal {
  id: string
  name: string
  role: Role
  /** Region-code prefixes (3707 covers 370702). */
  admdvs: readonly string[]
  fixmedins_codes: readonly string[]
}

/** Where an object sits, for scope checks. */
export interface Placement {
  fixmedins_code: string
  admdvs: string
}

export function unscoped(p: Pick<Principal, 'admdvs' | 'fixmedins_codes'>): boolean {
  return p.admdvs.length === 0 && p.fixmedins_codes.length === 0
}

/**
 * A token scoped to regions and/or institutions sees the union of them; an
 * unscoped token sees everything. Callers answer 404 for objects outside it so
 * that another region's ids are not even confirmed to exist.
 */
export function canSee(p: Pick<Principal, 'admdvs' | 'fixmedins_codes'>, o: Placement): boolean {
  if (unscoped(p)) return true
  return p.fixmedins_codes.includes(o.fixmedins_code) || p.admdvs.some((prefix) => o.admdvs.startsWith(prefix))
}

/**
 * The scope as a SQL predicate over a table's (admdvs, fixmedins_code) columns,
 * parameterised. `prefix` distinguishes several uses in one query.
 */
export function scopeSql(p: Pick<Principal, 'admdvs' | 'fixmedins_codes'>, cols: { admdvs: string; fixmedins_code: string }, prefix = 'scope'): { sql: string; params: Record<string, unknown> } {
  if (unscoped(p)) return { sql: '1', params: {} }
  return {
    sql: `(arrayExists(x -> startsWith(${cols.admdvs}, x), {${prefix}_admdvs:Array(String)}) OR has({${prefix}_codes:Array(String)}, ${cols.fixmedins_code}))`,
    params: { [`${prefix}_admdvs`]: [...p.admdvs], [`${prefix}_codes`]: [...p.fixmedins_codes] },
  }
}

/** A scope fits inside another when every region prefix and institution it names is covered by the outer one. */
export function scopeWithin(inner: Pick<Principal, 'admdvs' | 'fixmedins_codes'>, outer: Pick<Principal, 'admdvs' | 'fixmedins_codes'>, admdvsOf: (code: string) => string | undefined): boolean {
  if (unscoped(outer)) return true
  if (unscoped(inner)) return false
  return inner.admdvs.every((a) => outer.admdvs.some((o) => a.startsWith(o)))
    && inner.fixmedins_codes.every((c) => canSee(outer, { fixmedins_code: c, admdvs: admdvsOf(c) ?? '' }))
}
