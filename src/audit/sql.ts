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
    WHERE (${where}) AND (mdtrt_id, feedetl_sn) NOT IN (SELECT mdtrt_id, feedetl_sn FROM ${s.t('fee_reversals')} FINAL)
      AND mdtrt_id NOT IN (${cancelledVisits(s)})`
}

/** Visits withdrawn whole (visit.cancelled 'visit': national 2202/2404): none of their facts count. */
function cancelledVisits(s: Store): string {
  return `SELECT mdtrt_id FROM ${s.t('visit_cancellations')} FINAL WHERE cancels = 'visit'`
}

/**
 * Visits as they now stand, the way person state sees them (src/state/apply.ts):
 * the visit row with its latest visit.updated applied — each of med_type,
 * department and doctor from the latest update that gave it, the diagnoses from
 * the latest that gave a list — and without the visits cancelled whole. The
 * national 2201 opens an outpatient visit as 普通门诊 without diagnoses and 2203
 * brings both, so reading the visits table alone would see neither.
 */
export function activeVisits(s: Store, where = '1'): string {
  const visits = `SELECT * FROM ${s.t('visits')} FINAL WHERE (${where}) AND mdtrt_id NOT IN (${cancelledVisits(s)})`
  // The update's aggregates are named u_… : an alias equal to a column name would shadow the column inside the other aggregates.
  return `SELECT v.* REPLACE (
      if(u.u_med_type != '', u.u_med_type, v.med_type) AS med_type,
      if(u.u_dept != '', u.u_dept, v.adm_dept_codg) AS adm_dept_codg,
      if(u.u_doctor != '', u.u_doctor, v.atddr_no) AS atddr_no,
      if(u.u_has_diagnoses = 1, u.u_diagnoses, v.diagnoses) AS diagnoses)
    FROM (${visits}) AS v
    LEFT JOIN (
      SELECT mdtrt_id, argMaxIf(med_type, event_time, med_type != '') AS u_med_type, argMaxIf(adm_dept_codg, event_time, adm_dept_codg != '') AS u_dept,
        argMaxIf(atddr_no, event_time, atddr_no != '') AS u_doctor, argMaxIf(diagnoses, event_time, has_diagnoses = 1) AS u_diagnoses, max(has_diagnoses) AS u_has_diagnoses
      FROM ${s.t('visit_updates')} FINAL WHERE mdtrt_id IN (SELECT mdtrt_id FROM (${visits})) GROUP BY mdtrt_id
    ) AS u ON u.mdtrt_id = v.mdtrt_id`
}

/**
 * Discharges that stand: a discharge withdrawn (visit.cancelled 'discharge':
 * national 2405) counts no more; one sent after it does.
 */
export function activeDischarges(s: Store, where = '1'): string {
  return `SELECT d.* FROM (SELECT * FROM ${s.t('discharges')} FINAL WHERE (${where}) AND mdtrt_id NOT IN (${cancelledVisits(s)})) AS d
    LEFT JOIN (SELECT mdtrt_id, max(event_time) AS cancelled_at FROM ${s.t('visit_cancellations')} FINAL WHERE cancels = 'discharge' GROUP BY mdtrt_id) AS c ON c.mdtrt_id = d.mdtrt_id
    WHERE d.event_time > c.cancelled_at`
}

/** Settlements that stand (latest version, not reversed). */
export function activeSettlements(s: Store, where = '1'): string {
  return `SELECT * FROM ${s.t('settlements')} FINAL
    WHERE (${where}) AND setl_id NOT IN (SELECT setl_id FROM ${s.t('settlement_reversals')} FINAL) AND mdtrt_id NOT IN (${cancelledVisits(s)})`
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
