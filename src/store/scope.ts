/**
 * What the store filters by: regions (admdvs code prefixes; 3707 covers
 * 370702) and institutions. Empty both = everything. The auth layer maps a
 * principal onto a Scope (src/auth/principal.ts, scopeOf); storage never sees
 * who is asking.
 */
export interface Scope {
  admdvs: readonly string[]
  fixmedins_codes: readonly string[]
}

/** Where an object sits, for scope checks. */
export interface Placement {
  fixmedins_code: string
  admdvs: string
}

export function unscoped(p: Scope): boolean {
  return p.admdvs.length === 0 && p.fixmedins_codes.length === 0
}

/**
 * A token scoped to regions and/or institutions sees the union of them; an
 * unscoped token sees everything. Callers answer 404 for objects outside it so
 * that another region's ids are not even confirmed to exist.
 */
export function canSee(p: Scope, o: Placement): boolean {
  if (unscoped(p)) return true
  return p.fixmedins_codes.includes(o.fixmedins_code) || p.admdvs.some((prefix) => o.admdvs.startsWith(prefix))
}

/**
 * The scope as a SQL predicate over a table's (admdvs, fixmedins_code) columns,
 * parameterised. `prefix` distinguishes several uses in one query.
 */
export function scopeSql(p: Scope, cols: { admdvs: string; fixmedins_code: string }, prefix = 'scope'): { sql: string; params: Record<string, unknown> } {
  if (unscoped(p)) return { sql: '1', params: {} }
  return {
    sql: `(arrayExists(x -> startsWith(${cols.admdvs}, x), {${prefix}_admdvs:Array(String)}) OR has({${prefix}_codes:Array(String)}, ${cols.fixmedins_code}))`,
    params: { [`${prefix}_admdvs`]: [...p.admdvs], [`${prefix}_codes`]: [...p.fixmedins_codes] },
  }
}
