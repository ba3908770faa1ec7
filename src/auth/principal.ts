import { z } from 'zod'
import { canSee, unscoped, type Scope } from '../store/scope.ts'

export { canSee, scopeSql, unscoped, type Placement, type Scope } from '../store/scope.ts'

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

/**
 * A principal's scope is its regions and institutions: the store filters by
 * that Scope (src/store/scope.ts) and knows nothing of who is asking.
 */
export function scopeOf(p: Pick<Principal, 'admdvs' | 'fixmedins_codes'>): Scope {
  return { admdvs: p.admdvs, fixmedins_codes: p.fixmedins_codes }
}

/** A scope fits inside another when every region prefix and institution it names is covered by the outer one. */
export function scopeWithin(inner: Scope, outer: Scope, admdvsOf: (code: string) => string | undefined): boolean {
  if (unscoped(outer)) return true
  if (unscoped(inner)) return false
  return inner.admdvs.every((a) => outer.admdvs.some((o) => a.startsWith(o)))
    && inner.fixmedins_codes.every((c) => canSee(outer, { fixmedins_code: c, admdvs: admdvsOf(c) ?? '' }))
}
