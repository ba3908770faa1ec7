// Builders for audit-detector tests. Events are built by the wire-schema
// builders of test/helpers/detect.ts and turned into table rows by the same
// ingest path the pipeline's sink uses (src/store/rows.ts ingestLine, the
// migration-14 views), in a real chDB: the detector's SQL runs against exactly
// the rows a replay would have stored.
import { AnyEvent, type Alert } from '../../schemas/index.ts'
import { z } from 'zod'
import { defineDetector, type AuditContext, type AuditDetector, type Finding } from '../../src/detect/types.ts'
import { FundwatchError } from '../../src/errors.ts'
import type { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { ingestLine, insertIngest } from '../../src/store/rows.ts'
import type { Store } from '../../src/store/store.ts'
import { chTime, cnIso } from '../../src/util/time.ts'
import {
  feeReversed, feeUploaded, institution, item, makeKb, nextId, settlementCompleted, settlementReversed, visitClosed, visitOpened, type LineArgs,
} from '../helpers/detect.ts'

/** Stores events as the pipeline's sink would (typed rows in every table they touch). */
export async function storeEvents(store: Store, events: readonly AnyEvent[]): Promise<void> {
  const at = chTime(Date.now())
  await insertIngest(store, events.map((e) => ingestLine(e, Date.parse(e.event_time), JSON.stringify(e), true, 'test', at)))
}

/** China time, RFC 3339: cn('2026-03-02 09:15') → 2026-03-02T09:15:00+08:00. */
export function cn(s: string): string {
  return `${s.replace(' ', 'T')}:00+08:00`
}
export function ms(s: string): number {
  return Date.parse(cn(s))
}

export interface VisitSpec {
  fixmedins_code: string
  /** 'YYYY-MM-DD hh:mm' China time. */
  begntime: string
  mdtrt_id?: string
  psn_no?: string
  med_type?: string
  atddr_no?: string
  adm_dept_codg?: string
  diag?: string
  /** Lines; fee_ocur_time defaults to 10 minutes after begntime. */
  lines: (Omit<LineArgs, 'fee_ocur_time'> & { fee_ocur_time?: string })[]
  /** Discharge time ('YYYY-MM-DD hh:mm'), for stays. */
  endtime?: string
  /** Settle (default: 30 minutes after the last event). false = not settled. */
  settle?: false | { setl_id?: string; setl_time?: string; fund?: string; medfee?: string; pay_grp?: { type: 'DRG' | 'DIP'; code: string; weight: string } }
}

/** The events of one visit: opened, fees uploaded, closed (stays), settled. */
export function visitEvents(v: VisitSpec): { events: AnyEvent[]; mdtrt_id: string; setl_id?: string; feedetl_sns: string[] } {
  const mdtrt_id = v.mdtrt_id ?? nextId('V')
  const psn_no = v.psn_no ?? nextId('PSN0000')
  const env = { fixmedins_code: v.fixmedins_code }
  const begin = cn(v.begntime)
  const lines = v.lines.map((l) => ({ ...l, feedetl_sn: l.feedetl_sn ?? nextId('S'), fee_ocur_time: l.fee_ocur_time ?? cnIso(Date.parse(begin) + 10 * 60_000), bilg_dr_codg: l.bilg_dr_codg ?? v.atddr_no ?? 'DR0001' }))
  const events: AnyEvent[] = [
    visitOpened({ ...env, mdtrt_id, psn_no, begntime: begin, med_type: v.med_type ?? '11', atddr_no: v.atddr_no ?? 'DR0001', adm_dept_codg: v.adm_dept_codg ?? 'A03', diagnoses: [{ diag_code: v.diag ?? 'J06.900' }] }),
  ]
  if (lines.length) events.push(feeUploaded({ ...env, mdtrt_id, psn_no, lines }))
  let last = Math.max(Date.parse(begin), ...lines.map((l) => Date.parse(l.fee_ocur_time)))
  if (v.endtime) {
    events.push(visitClosed({ ...env, mdtrt_id, psn_no, endtime: cn(v.endtime), dscg_maindiag_code: v.diag ?? 'J18.900' }))
    last = Math.max(last, ms(v.endtime))
  }
  let setl_id: string | undefined
  if (v.settle !== false) {
    const s = v.settle ?? {}
    setl_id = s.setl_id ?? nextId('SETL')
    const total = lines.reduce((a, l) => a + Number(l.cnt ?? '1') * Number(l.pric ?? '10.00'), 0)
    const medfee = s.medfee ?? total.toFixed(2)
    events.push(settlementCompleted({
      ...env, mdtrt_id, psn_no, setl_id, setl_time: s.setl_time ? cn(s.setl_time) : cnIso(last + 30 * 60_000),
      med_type: v.med_type ?? '11', medfee_sumamt: medfee, fund_pay_sumamt: s.fund ?? (Number(medfee) * 0.6).toFixed(2),
      ...(s.pay_grp ? { pay_grp: s.pay_grp } : {}),
    }))
  }
  return { events, mdtrt_id, ...(setl_id ? { setl_id } : {}), feedetl_sns: lines.map((l) => l.feedetl_sn) }
}

export function inventoryMovement(a: { fixmedins_code: string; med_list_codg: string; kind: 'purchase' | 'sale' | 'return' | 'stock_count' | 'loss'; cnt: string; time: string; mdtrt_id?: string }): AnyEvent {
  const t = cn(a.time)
  return AnyEvent.parse({
    event_id: nextId('inv'), event_type: 'inventory.movement', event_time: t, schema_version: 1, source: { fixmedins_code: a.fixmedins_code },
    payload: { fixmedins_code: a.fixmedins_code, med_list_codg: a.med_list_codg, kind: a.kind, cnt: a.cnt, movement_time: t, ...(a.mdtrt_id ? { mdtrt_id: a.mdtrt_id } : {}) },
  })
}

export { feeReversed, settlementReversed }

/** Runs an audit detector over [from, to) ('YYYY-MM-DD' China days, `to` inclusive) with parameter overrides. */
export async function runDetector<D extends AuditDetector>(d: D, store: Store, kb: KnowledgeBase, from: string, to: string, params: Record<string, unknown> = {}): Promise<Finding[]> {
  const ctx: AuditContext = { store, kb, from: ms(`${from} 00:00`), to: ms(`${to} 00:00`) + 86_400_000 }
  return d.audit(ctx, d.params.parse(params) as never)
}

export type { Alert }

/** An audit detector that always throws a store error with `message` (for the failure paths of the runner). */
export function brokenAudit(message: string): AuditDetector {
  return defineDetector({
    kind: 'audit', id: 'broken-audit', version: '1.0.0', title: { zh: '坏', en: 'broken' }, pattern: { zh: '坏', en: 'broken' },
    description: { zh: '总是失败', en: 'always fails' }, stages: ['post'], scenarios: ['outpatient'], result: 'suspicious', severity: 'low',
    basis: { zh: '无', en: 'none' }, params: z.object({}).strict(), evidence: {},
    async audit() {
      throw new FundwatchError('STORE_QUERY_FAILED', message)
    },
  })
}

/** A one-therapist clinic billing physiotherapy: capacity-exceeded's smallest world. */
export const THERAPY_CLINIC = 'H37070500051'
export const therapyKb = makeKb({ institutions: [institution(THERAPY_CLINIC, { kind: 'clinic', level: 1, type: '基层医疗机构', therapists: 1 })], catalog: [item('PT', { therapist_minutes: 40 })] })
