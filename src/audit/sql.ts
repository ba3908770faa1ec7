import type { Institution } from '../../schemas/index.ts'
import type { AuditContext } from '../detect/types.ts'
import type { Store } from '../store/store.ts'
import { cnDate } from '../util/time.ts'

/**
 * SQL fragments every audit detector shares. Only table names (qualified with
 * the store's checked database name) are interpolated; every value is a query
 * parameter. The window is passed as epoch milliseconds ({from:Int64},
 * {to:Int64}) and converted in SQL, so no client-side date formatting can
 * shift it by a time zone.
 */
export const FROM = 'fromUnixTimestamp64Milli({from:Int64})'
export const TO = 'fromUnixTimestamp64Milli({to:Int64})'

export function windowParams(ctx: AuditContext): { from: number; to: number } {
  return { from: ctx.from, to: ctx.to }
}

/** The window as China dates, last day inclusive (2026-01-01..2026-01-31), for keys and messages. */
export function windowLabel(ctx: Pick<AuditContext, 'from' | 'to'>): string {
  return `${cnDate(ctx.from)}..${cnDate(ctx.to - 1)}`
}

/** The window as evidence: both ends in China time. */
export function windowEvidence(ctx: Pick<AuditContext, 'from' | 'to'>): { from: string; to: string; days: number } {
  return { from: cnDate(ctx.from), to: cnDate(ctx.to - 1), days: Math.round((ctx.to - ctx.from) / 86_400_000) }
}

/**
 * Fee lines that stand: the latest version of each line (FINAL: a replay can
 * leave unmerged duplicates that would double every sum) minus the lines a
 * fee.reversed withdrew.
 */
export function activeLines(s: Store, where = '1'): string {
  return `SELECT * FROM ${s.t('fee_lines')} FINAL
    WHERE (${where}) AND (mdtrt_id, feedetl_sn) NOT IN (SELECT mdtrt_id, feedetl_sn FROM ${s.t('fee_reversals')} FINAL)`
}

/** Settlements that stand (latest version, not reversed). */
export function activeSettlements(s: Store, where = '1'): string {
  return `SELECT * FROM ${s.t('settlements')} FINAL
    WHERE (${where}) AND setl_id NOT IN (SELECT setl_id FROM ${s.t('settlement_reversals')} FINAL)`
}

/**
 * What the insurance paid on a settlement: the pooled funds (fund_pay_sumamt)
 * plus the personal account (acct_pay, 职工个人账户 — insurance money too). A
 * pharmacy purchase is usually paid from the account alone, so the pooled
 * fund by itself would put no money at risk in the pharmacy patterns.
 */
export const INSURANCE_PAID = '(fund_pay_sumamt + acct_pay)'

/** 医疗类别 of inpatient stays (2x 住院, 52 生育住院), as an SQL condition on `med_type`. */
export const IS_INPATIENT = `(startsWith(med_type, '2') AND length(med_type) = 2 OR med_type = '52')`

/**
 * A peer group: institutions of the same level and type (as the rule base
 * scopes rules), or — when that group is too small to say what is normal — of
 * the same level and kind (hospital / clinic / pharmacy), so a lone 中医医院 of
 * level 3 is still compared with level-3 hospitals and never with pharmacies.
 */
export interface PeerGroup {
  key: string
  basis: 'level+type' | 'level+kind'
}

export function peerGroupKeys(inst: Institution): { exact: PeerGroup; fallback: PeerGroup } {
  return {
    exact: { key: `L${inst.level}/${inst.type}`, basis: 'level+type' },
    fallback: { key: `L${inst.level}/${inst.kind}`, basis: 'level+kind' },
  }
}

/**
 * Assigns each subject its peer group: the exact group when it has at least
 * `minPeers` other members, else the fallback group when that has, else none.
 */
export function assignPeers<T>(subjects: readonly T[], keys: (t: T) => { exact: PeerGroup; fallback?: PeerGroup } | undefined, minPeers: number, fallback: boolean): Map<T, { group: PeerGroup; members: T[] }> {
  const byKey = new Map<string, T[]>()
  const k = new Map<T, { exact: PeerGroup; fallback?: PeerGroup }>()
  for (const s of subjects) {
    const g = keys(s)
    if (!g) continue
    k.set(s, g)
    for (const key of [g.exact.key, ...(g.fallback ? [`~${g.fallback.key}`] : [])]) {
      const list = byKey.get(key)
      if (list) list.push(s)
      else byKey.set(key, [s])
    }
  }
  const out = new Map<T, { group: PeerGroup; members: T[] }>()
  for (const [s, g] of k) {
    const exact = byKey.get(g.exact.key)!
    if (exact.length - 1 >= minPeers) out.set(s, { group: g.exact, members: exact })
    else if (fallback && g.fallback) {
      const fb = byKey.get(`~${g.fallback.key}`)!
      if (fb.length - 1 >= minPeers) out.set(s, { group: g.fallback, members: fb })
    }
  }
  return out
}

/** Numbers come back from JSONEachRow as numbers or (64-bit, Decimal) strings. */
export function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0)
}
