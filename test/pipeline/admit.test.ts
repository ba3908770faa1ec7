import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import type { Pipeline } from '../../src/pipeline/pipeline.ts'
import { memorySource } from '../../src/pipeline/sources.ts'
import type { SourceRecord } from '../../src/pipeline/types.ts'
import { feeUploaded, institution, item, makeKb, settlementCompleted, visitClosed, visitOpened } from '../helpers/detect.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

/**
 * Admission (issue 8, items 4, 9, 10): what an event may change is judged
 * against what is already known — who owns the visit, what was first stored
 * under an event_id, whether the facts it names exist — before it is applied.
 */
const A = 'H37070200001'
const B = 'H37070200002'
const P = 'P37070200001'
const kb = makeKb({
  institutions: [institution(A, { admdvs: '370702' }), institution(B, { admdvs: '370702' }), institution(P, { admdvs: '370702' })],
  catalog: [item('SVC-1'), item('SVC-2'), item('DRUG-1', { list_type: 'drug', med_chrgitm_type: '09' })],
})
const NOW = Date.parse('2026-04-01T12:00:00+08:00')
const t = (d: number, h = 9, m = 0) => `2026-03-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+08:00`

let app: TestApp
let pos = 0
beforeAll(async () => {
  app = await testApp({ kb })
})
afterAll(async () => app?.close())

const rec = (e: AnyEvent | Record<string, unknown>, extra: Partial<SourceRecord> = {}): SourceRecord =>
  ({ value: Buffer.from(JSON.stringify(e)), pos: `admit:${++pos}`, owner: 'admit', ...extra })
const pipeline = (): Pipeline => app.pipeline({ decode: { now: () => NOW }, now: () => NOW })
const isRecord = (e: object): e is SourceRecord => 'value' in e && Buffer.isBuffer(e.value)
const run = async (...batches: (AnyEvent | Record<string, unknown> | SourceRecord)[][]) =>
  pipeline().run(memorySource(batches.map((b) => b.map((e) => (isRecord(e) ? e : rec(e))))), new AbortController().signal)
/** A restart: the person cache is gone and a new pipeline starts; only the store remembers. */
const restart = () => app.cache.clear()

const q = async <T = Record<string, string>>(sql: string, params: Record<string, unknown> = {}) => app.store.query<T>(sql.replace(/\$(\w+)/g, (_m, tb: string) => app.store.t(tb)), params)
const n = async (sql: string, params: Record<string, unknown> = {}) => Number((await q<{ c: string }>(sql, params))[0]!.c)
const rejected = async (reason: string) => (await app.metrics.rejected.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0
const flagged = async (reason: string) => (await app.metrics.registry.getSingleMetric('fundwatch_data_quality_total')?.get())?.values.find((v) => v.labels.reason === reason)?.value ?? 0
const deadLetters = async (reason: string) => q<{ reason: string; detail: string; raw_base64: string }>(`SELECT reason, detail, raw_base64 FROM $dead_letters FINAL WHERE reason = {r:String} ORDER BY source`, { r: reason })

const open = (id: string, mdtrt: string, psn: string, inst: string, day = 2, extra: Partial<Parameters<typeof visitOpened>[0]> = {}) =>
  visitOpened({ event_id: id, mdtrt_id: mdtrt, psn_no: psn, begntime: t(day), med_type: '21', fixmedins_code: inst, ...extra })
const fee = (id: string, mdtrt: string, psn: string, inst: string, lines: Parameters<typeof feeUploaded>[0]['lines']) =>
  feeUploaded({ event_id: id, mdtrt_id: mdtrt, psn_no: psn, fixmedins_code: inst, lines })
const reversal = (id: string, mdtrt: string, psn: string, inst: string, sns: string[], at = t(4)) =>
  ({ event_id: id, event_type: 'fee.reversed', event_time: at, schema_version: 1, source: { fixmedins_code: inst }, payload: { mdtrt_id: mdtrt, psn_no: psn, feedetl_sns: sns } })
const setlReversal = (id: string, mdtrt: string, psn: string, inst: string, setl: string, at = t(6)) =>
  ({ event_id: id, event_type: 'settlement.reversed', event_time: at, schema_version: 1, source: { fixmedins_code: inst }, payload: { setl_id: setl, mdtrt_id: mdtrt, psn_no: psn } })

describe('a visit belongs to the institution that opened it (issue 8.4)', () => {
  it('dead-letters a fee.uploaded from another institution as foreign_visit, and files no alert against the owner', async () => {
    const psn = 'PSNOWN0001'
    await run([open('own-o1', 'V-OWN1', psn, B), fee('own-f1', 'V-OWN1', psn, B, [{ feedetl_sn: 'V-OWN1-L1', fee_ocur_time: t(2, 10), med_list_codg: 'DRUG-1', list_type: 'drug', med_chrgitm_type: '09' }])])
    // A writes the same drug at the same minute into B's visit: before the fix a duplicate charge "by B".
    const sum = await run([fee('own-f2', 'V-OWN1', psn, A, [{ feedetl_sn: 'V-OWN1-A1', fee_ocur_time: t(2, 10), med_list_codg: 'DRUG-1', list_type: 'drug', med_chrgitm_type: '09' }])])
    expect(sum.rejectedByReason).toEqual({ foreign_visit: 1 })
    expect((await q<{ feedetl_sn: string }>(`SELECT feedetl_sn FROM $fee_lines FINAL WHERE mdtrt_id = 'V-OWN1'`)).map((r) => r.feedetl_sn)).toEqual(['V-OWN1-L1'])
    expect(await n(`SELECT count() AS c FROM $events FINAL WHERE event_id = 'own-f2'`)).toBe(0)
    expect(await n(`SELECT count() AS c FROM $alerts FINAL WHERE has(mdtrt_ids, 'V-OWN1')`)).toBe(0)
    const [dl] = await deadLetters('foreign_visit')
    expect(dl!.detail).toMatch(/V-OWN1/)
    expect(JSON.parse(Buffer.from(dl!.raw_base64, 'base64').toString()).event_id).toBe('own-f2')
    expect(await rejected('foreign_visit')).toBe(1)
  })

  it('dead-letters a fee.reversed from another institution: the owner\'s line stays billed', async () => {
    const sum = await run([reversal('own-r1', 'V-OWN1', 'PSNOWN0001', A, ['V-OWN1-L1'])])
    expect(sum.rejectedByReason).toEqual({ foreign_visit: 1 })
    expect(await n(`SELECT count() AS c FROM $fee_reversals FINAL WHERE mdtrt_id = 'V-OWN1'`)).toBe(0)
  })

  it('refuses a foreign event in the batch that opens the visit, and in a batch prepared before that one is stored', async () => {
    const psn = 'PSNOWN0002'
    const same = await run([open('own-o2', 'V-OWN2', psn, B), fee('own-f3', 'V-OWN2', psn, A, [{ feedetl_sn: 'V-OWN2-A1', fee_ocur_time: t(2, 11), med_list_codg: 'SVC-1' }])])
    expect(same.rejectedByReason).toEqual({ foreign_visit: 1 })
    // Two batches in flight: the second is prepared while the first is not yet in ClickHouse.
    const p = pipeline()
    const first = await p.prepare({ records: [rec(open('own-o3', 'V-OWN3', psn, B, 3))] })
    const second = await p.prepare({ records: [rec(fee('own-f4', 'V-OWN3', psn, A, [{ feedetl_sn: 'V-OWN3-A1', fee_ocur_time: t(3, 11), med_list_codg: 'SVC-1' }]))] })
    expect(second.deadLetters.map((d) => d.reason)).toEqual(['foreign_visit'])
    await p.persist(first, new AbortController().signal)
    await p.persist(second, new AbortController().signal)
  })

  it('after a restart the stored visit still belongs to its opener', async () => {
    restart()
    const sum = await run([fee('own-f5', 'V-OWN3', 'PSNOWN0002', A, [{ feedetl_sn: 'V-OWN3-A2', fee_ocur_time: t(3, 12), med_list_codg: 'SVC-2' }])])
    expect(sum.rejectedByReason).toEqual({ foreign_visit: 1 })
    // The owner itself is still welcome.
    const ok = await run([fee('own-f6', 'V-OWN3', 'PSNOWN0002', B, [{ feedetl_sn: 'V-OWN3-B1', fee_ocur_time: t(3, 12), med_list_codg: 'SVC-2' }])])
    expect(ok.rejected).toBe(0)
  })

  it('dead-letters an inventory movement the sender books for another institution as foreign_institution', async () => {
    const mv = (id: string, sender: string, inst: string) => ({
      event_id: id, event_type: 'inventory.movement', event_time: t(5), schema_version: 1, source: { fixmedins_code: sender },
      payload: { fixmedins_code: inst, med_list_codg: 'DRUG-1', kind: 'purchase', cnt: '100', movement_time: t(5) },
    })
    const sum = await run([mv('inv-1', A, P), mv('inv-2', P, P)])
    expect(sum.rejectedByReason).toEqual({ foreign_institution: 1 })
    expect((await q<{ event_id: string }>(`SELECT event_id FROM $inventory_movements FINAL`)).map((r) => r.event_id)).toEqual(['inv-2'])
  })

  it('dead-letters a record whose authenticated sender is not the envelope\'s source as foreign_institution', async () => {
    const psn = 'PSNOWN0003'
    const sum = await run([rec(open('own-o4', 'V-OWN4', psn, A), { sender: B }), rec(open('own-o5', 'V-OWN5', psn, B), { sender: B })])
    expect(sum.rejectedByReason).toEqual({ foreign_institution: 1 })
    expect((await q<{ mdtrt_id: string }>(`SELECT mdtrt_id FROM $visits FINAL WHERE psn_no = {p:String}`, { p: psn })).map((r) => r.mdtrt_id)).toEqual(['V-OWN5'])
  })
})

describe('one event_id, one content (issue 8.9)', () => {
  const psn = 'PSNID00001'
  const line = (cnt: string, pric: string) => ({ feedetl_sn: 'V-ID1-L1', fee_ocur_time: t(2, 10), med_list_codg: 'SVC-1', cnt, pric })

  it('keeps the first content of an event_id and dead-letters a different second one as event_id_conflict', async () => {
    const first = fee('id-f1', 'V-ID1', psn, A, [line('1', '10.00')])
    await run([open('id-o1', 'V-ID1', psn, A), first])
    const sum = await run([fee('id-f1', 'V-ID1', psn, A, [line('50', '10.00')])])
    expect(sum.rejectedByReason).toEqual({ event_id_conflict: 1 })
    const rows = await q<{ cnt: string; amt: string }>(`SELECT toString(cnt) AS cnt, toString(det_item_fee_sumamt) AS amt FROM $fee_lines FINAL WHERE mdtrt_id = 'V-ID1'`)
    expect(rows).toEqual([{ cnt: '1', amt: '10' }])
    expect((await q<{ raw: string }>(`SELECT raw FROM $events FINAL WHERE event_id = 'id-f1'`)).map((r) => r.raw)).toEqual([JSON.stringify(first)])
    expect(await rejected('event_id_conflict')).toBe(1)
  })

  it('does not store an event_id a second time under another institution or another month', async () => {
    await run([open('id-o2', 'V-ID2', psn, B, 3)])
    const otherInst = fee('id-f1', 'V-ID2', psn, B, [{ feedetl_sn: 'V-ID2-L1', fee_ocur_time: t(3, 10), med_list_codg: 'SVC-1' }])
    const otherMonth = { ...open('id-o1', 'V-ID1', psn, A), event_time: '2026-02-27T10:00:00+08:00' }
    const sum = await run([otherInst, otherMonth])
    expect(sum.rejectedByReason).toEqual({ event_id_conflict: 2 })
    for (const id of ['id-f1', 'id-o1']) expect(await n(`SELECT count() AS c FROM $events WHERE event_id = {id:String}`, { id })).toBe(1)
    expect(await n(`SELECT count() AS c FROM $fee_lines FINAL WHERE mdtrt_id = 'V-ID2'`)).toBe(0)
  })

  it('within one batch: an identical copy is a redelivery, a different one a conflict', async () => {
    const ev = fee('id-f3', 'V-ID1', psn, A, [{ feedetl_sn: 'V-ID1-L3', fee_ocur_time: t(2, 12), med_list_codg: 'SVC-2' }])
    const other = fee('id-f3', 'V-ID1', psn, A, [{ feedetl_sn: 'V-ID1-L4', fee_ocur_time: t(2, 12), med_list_codg: 'SVC-1' }])
    const sum = await run([ev, ev, other])
    expect(sum.rejectedByReason).toEqual({ event_id_conflict: 1 })
    expect((await q<{ feedetl_sn: string }>(`SELECT feedetl_sn FROM $fee_lines FINAL WHERE event_id = 'id-f3'`)).map((r) => r.feedetl_sn)).toEqual(['V-ID1-L3'])
  })

  it('across a restart the stored events decide; a redelivery of the same bytes stays a no-op', async () => {
    restart()
    const conflict = await run([fee('id-f1', 'V-ID1', psn, A, [line('2', '10.00')])])
    expect(conflict.rejectedByReason).toEqual({ event_id_conflict: 1 })
    const tables = ['events', 'fee_lines', 'visits', 'alerts', 'data_quality']
    const counts = async () => {
      for (const tb of tables) await app.store.command(`OPTIMIZE TABLE ${app.store.t(tb)} FINAL`)
      return Promise.all(tables.map((tb) => n(`SELECT count() AS c FROM ${app.store.t(tb)}`)))
    }
    const before = await counts()
    const again = await run([open('id-o1', 'V-ID1', psn, A), fee('id-f1', 'V-ID1', psn, A, [line('1', '10.00')])])
    expect(again.rejected).toBe(0)
    expect(again.events).toBe(2)
    expect(await counts()).toEqual(before)
  })
})

describe('events that cannot be true (issue 8.10)', () => {
  const psn = 'PSNIMP0001'
  const base = open('imp-o0', 'V-IMP0', psn, A)
  type Obj = Record<string, unknown>
  const edit = (e: AnyEvent, id: string, f: (ev: Obj, p: Obj) => void): Obj => {
    const c = JSON.parse(JSON.stringify(e)) as Obj
    c.event_id = id
    f(c, c.payload as Obj)
    return c
  }
  const cases: [string, Obj, string][] = [
    ['unknown institution', edit(base, 'imp-1', (e) => void (e.source = { fixmedins_code: 'H99999900001' })), 'unknown_institution'],
    ['admission in 2099', edit(base, 'imp-2', (_e, p) => void (p.begntime = '2099-01-01T09:00:00+08:00')), 'future_time@payload.begntime'],
    ['admission in year 0001', edit(base, 'imp-3', (_e, p) => void (p.begntime = '0001-01-01T09:00:00+08:00')), 'implausible_time@payload.begntime'],
    ['event_time in 1901', edit(base, 'imp-4', (e) => void (e.event_time = '1901-03-02T09:00:00+08:00')), 'implausible_time@event_time'],
    ['birthday after the visit', edit(base, 'imp-5', (_e, p) => void ((p.psn as Obj).brdy = '2026-07-01')), 'birth_after_visit@payload.psn.brdy'],
    ['fee line in 2098', edit(fee('imp-6', 'V-IMP0', psn, A, [{ feedetl_sn: 'IMP-L1', fee_ocur_time: '2098-03-02T10:00:00+08:00', med_list_codg: 'SVC-1' }]), 'imp-6', (e) => void (e.event_time = t(3))), 'future_time@payload.lines.*.fee_ocur_time'],
    ['fee line in year 0001', edit(fee('imp-7', 'V-IMP0', psn, A, [{ feedetl_sn: 'IMP-L2', fee_ocur_time: '0001-03-02T10:00:00+08:00', med_list_codg: 'SVC-1' }]), 'imp-7', (e) => void (e.event_time = t(3))), 'implausible_time@payload.lines.*.fee_ocur_time'],
    ['discharge in 9999', edit(visitClosed({ mdtrt_id: 'V-IMP0', psn_no: psn, endtime: t(6), dscg_maindiag_code: 'J18.900', fixmedins_code: A }), 'imp-8', (_e, p) => void (p.endtime = '9999-12-31T23:59:59+08:00')), 'future_time@payload.endtime'],
    ['settlement in 2099', edit(settlementCompleted({ mdtrt_id: 'V-IMP0', psn_no: psn, setl_time: t(6), fixmedins_code: A }), 'imp-9', (_e, p) => void (p.setl_time = '2099-03-02T10:00:00+08:00')), 'future_time@payload.setl_time'],
  ]

  it('dead-letters impossible values with a reason each', async () => {
    const sum = await run([base, ...cases.map((c) => c[1])])
    const expected: Record<string, number> = {}
    for (const [, , reason] of cases) expected[reason] = (expected[reason] ?? 0) + 1
    expect(sum.rejectedByReason).toEqual(expected)
    expect(sum.events).toBe(1)
    for (const [name, ev, reason] of cases) {
      expect(await n(`SELECT count() AS c FROM $events WHERE event_id = {id:String}`, { id: ev.event_id }), name).toBe(0)
      expect(await rejected(reason), name).toBeGreaterThanOrEqual(1)
    }
  })

  it('dead-letters a discharge before the admission, so no phantom services are alleged', async () => {
    const psn2 = 'PSNIMP0002'
    const lines = [1, 2, 3].map((i) => ({ feedetl_sn: `V-IMP1-L${i}`, fee_ocur_time: t(5, 9 + i), med_list_codg: 'SVC-1' }))
    const sum = await run([open('imp-o1', 'V-IMP1', psn2, A, 5), fee('imp-f1', 'V-IMP1', psn2, A, lines)], [visitClosed({ event_id: 'imp-c1', mdtrt_id: 'V-IMP1', psn_no: psn2, endtime: t(2), dscg_maindiag_code: 'J18.900', fixmedins_code: A })])
    expect(sum.rejectedByReason).toEqual({ discharge_before_admission: 1 })
    expect(await n(`SELECT count() AS c FROM $discharges FINAL WHERE mdtrt_id = 'V-IMP1'`)).toBe(0)
    expect(await n(`SELECT count() AS c FROM $alerts FINAL WHERE detector_id = 'phantom-service' AND has(mdtrt_ids, 'V-IMP1')`)).toBe(0)
  })

  it('dead-letters an admission after the discharge already received for the visit', async () => {
    const psn3 = 'PSNIMP0004'
    const sum = await run([visitClosed({ event_id: 'imp-c2', mdtrt_id: 'V-IMP2', psn_no: psn3, endtime: t(3), dscg_maindiag_code: 'J18.900', fixmedins_code: A })], [open('imp-o2', 'V-IMP2', psn3, A, 5)])
    expect(sum.rejectedByReason).toEqual({ discharge_before_admission: 1 })
    expect(await n(`SELECT count() AS c FROM $visits FINAL WHERE mdtrt_id = 'V-IMP2'`)).toBe(0)
  })

  it('dead-letters a fee for an existing visit under another psn_no as visit_person_mismatch', async () => {
    const sum = await run([fee('imp-f2', 'V-IMP1', 'PSNIMP0003', A, [{ feedetl_sn: 'V-IMP1-X1', fee_ocur_time: t(5, 15), med_list_codg: 'SVC-1' }])])
    expect(sum.rejectedByReason).toEqual({ visit_person_mismatch: 1 })
    expect(await n(`SELECT count() AS c FROM $fee_lines FINAL WHERE psn_no = 'PSNIMP0003'`)).toBe(0)
  })
})

describe('references to facts never seen are stored and flagged for ops (issue 8.10)', () => {
  const psn = 'PSNREF0001'
  const dq = async (event_id: string) => q<{ reason: string; refs: string[]; fixmedins_code: string; mdtrt_id: string }>(`SELECT reason, refs, fixmedins_code, mdtrt_id FROM $data_quality FINAL WHERE event_id = {id:String}`, { id: event_id })

  it('flags a reversal of an unknown line, of an unknown settlement, and a settlement for an unknown visit', async () => {
    await run([open('ref-o1', 'V-REF1', psn, A), fee('ref-f1', 'V-REF1', psn, A, [{ feedetl_sn: 'V-REF1-L1', fee_ocur_time: t(2, 10), med_list_codg: 'SVC-1' }])])
    const sum = await run([
      reversal('ref-r1', 'V-REF1', psn, A, ['V-REF1-L1', 'V-REF1-L9']),
      setlReversal('ref-r2', 'V-REF1', psn, A, 'S-NEVER'),
      settlementCompleted({ event_id: 'ref-s1', mdtrt_id: 'V-REF-UNKNOWN', psn_no: psn, setl_id: 'S-REF2', setl_time: t(6), fixmedins_code: A }),
      reversal('ref-r3', 'V-REF-NONE', psn, A, ['X1']),
      visitClosed({ event_id: 'ref-c1', mdtrt_id: 'V-REF-CLOSED', psn_no: psn, endtime: t(6), dscg_maindiag_code: 'J18.900', fixmedins_code: A }),
    ])
    expect(sum.rejected).toBe(0)
    expect(sum.events).toBe(5)
    expect(await dq('ref-r1')).toEqual([{ reason: 'reversal_of_unknown_line', refs: ['V-REF1-L9'], fixmedins_code: A, mdtrt_id: 'V-REF1' }])
    expect((await dq('ref-r2')).map((r) => r.reason)).toEqual(['reversal_of_unknown_settlement'])
    expect((await dq('ref-s1')).map((r) => r.reason)).toEqual(['settlement_of_unknown_visit'])
    expect((await dq('ref-r3')).map((r) => r.reason)).toEqual(['reversal_of_unknown_line'])
    expect((await dq('ref-c1')).map((r) => r.reason)).toEqual(['discharge_of_unknown_visit'])
    // Stored as sent: the known line is reversed, the facts are on record.
    expect(await n(`SELECT count() AS c FROM $fee_reversals FINAL WHERE mdtrt_id = 'V-REF1'`)).toBe(2)
    expect(await flagged('reversal_of_unknown_line')).toBe(2)
    expect(await flagged('reversal_of_unknown_settlement')).toBe(1)
    expect(await flagged('settlement_of_unknown_visit')).toBe(1)
  })

  it('does not flag a reversal whose line is stored but older than the state window', async () => {
    const old = (d: string) => `2024-06-${d}T09:00:00+08:00`
    await run([
      visitOpened({ event_id: 'ref-o4', mdtrt_id: 'V-REF4', psn_no: psn, begntime: old('01'), med_type: '11', fixmedins_code: A }),
      fee('ref-f4', 'V-REF4', psn, A, [{ feedetl_sn: 'V-REF4-L1', fee_ocur_time: old('01'), med_list_codg: 'SVC-1' }]),
    ])
    restart()
    const sum = await run([reversal('ref-r4', 'V-REF4', psn, A, ['V-REF4-L1'], '2026-03-31T09:00:00+08:00')])
    expect(sum.rejected).toBe(0)
    // Nothing of that visit was loaded into the person's state: only the store knows the line.
    expect(app.cache.get(psn)?.visits.get('V-REF4')?.lines.get('V-REF4-L1')).toBeUndefined()
    expect(await dq('ref-r4')).toEqual([])
    expect(await n(`SELECT count() AS c FROM $fee_reversals FINAL WHERE mdtrt_id = 'V-REF4'`)).toBe(1)
  })

  it('flags nothing in a clean visit', async () => {
    const psn2 = 'PSNREF0002'
    await run([
      open('ref-o5', 'V-REF5', psn2, B), fee('ref-f5', 'V-REF5', psn2, B, [{ feedetl_sn: 'V-REF5-L1', fee_ocur_time: t(2, 10), med_list_codg: 'SVC-1' }]),
      reversal('ref-r5', 'V-REF5', psn2, B, ['V-REF5-L1']),
      visitClosed({ event_id: 'ref-c5', mdtrt_id: 'V-REF5', psn_no: psn2, endtime: t(5), dscg_maindiag_code: 'J18.900', fixmedins_code: B }),
      settlementCompleted({ event_id: 'ref-s5', mdtrt_id: 'V-REF5', psn_no: psn2, setl_id: 'S-REF5', setl_time: t(5, 10), fixmedins_code: B }),
      setlReversal('ref-r6', 'V-REF5', psn2, B, 'S-REF5'),
    ])
    expect(await n(`SELECT count() AS c FROM $data_quality FINAL WHERE psn_no = {p:String}`, { p: psn2 })).toBe(0)
  })
})
