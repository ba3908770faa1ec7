import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AnyEvent, type Alert } from '../../schemas/index.ts'
import { replayFile } from '../../src/cli/replay.ts'
import { loadClaims } from '../../src/evidence/claims.ts'
import { precheck } from '../../src/precheck/precheck.ts'
import { loadPersons } from '../../src/state/cache.ts'
import { alertsById } from '../../src/store/alerts.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { HOSPITAL, HOSPITAL_2, feeUploaded, institution, item, makeKb, settlementCompleted, visitClosed, visitOpened } from '../helpers/detect.ts'

// The national platform's shapes (CONTRACT.md 2026-12-06), end to end through
// the ordinary contract path: visit.updated, visit.cancelled, fee.reversed by
// charge batch, and visit.opened without psn — applied, stored, reloaded after
// a restart, and followed by the alerts resting on them.

const kb = makeKb({
  institutions: [institution(HOSPITAL, { level: 3 }), institution(HOSPITAL_2, { level: 3 })],
  catalog: [
    item('DRUG-A', { list_type: 'drug', med_chrgitm_type: '09' }),
    // 限适应症: only for diabetes (E11).
    item('DRUG-E', { list_type: 'drug', med_chrgitm_type: '09', indications: ['E11'] }),
    // 限儿童.
    item('DRUG-KID', { list_type: 'drug', med_chrgitm_type: '09', age_max: 12 }),
    item('BED-1', { name: '床位费', med_chrgitm_type: '01', unit: '日' }),
  ],
  persons: [{ psn_no: 'PSNNOPSN01', gend: '1', brdy: '1970-01-01' }],
})

const t = (d: number, h: number, m = 0) => `2026-04-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+08:00`

let app: TestApp
let dir: string
let n = 0
beforeAll(async () => {
  app = await testApp({ kb })
  dir = mkdtempSync(join(tmpdir(), 'fw-visit-changes-'))
})
afterAll(async () => app?.close())

async function replay(events: (AnyEvent | Record<string, unknown>)[], batchSize = 100) {
  const file = join(dir, `events-${++n}.jsonl`)
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n')
  return replayFile(app, file, { batchSize })
}

async function alertsOf(mdtrt_id: string, detector?: string): Promise<Alert[]> {
  const ids = await app.store.query<{ alert_id: string }>(`SELECT DISTINCT alert_id FROM ${app.store.t('alerts')} WHERE has(mdtrt_ids, {m:String})`, { m: mdtrt_id })
  return (await alertsById(app.store, ids.map((r) => r.alert_id))).map((s) => s.alert).filter((a) => detector === undefined || a.detector.id === detector)
}

const envelope = (event_type: string, event_id: string, event_time: string, payload: Record<string, unknown>, fixmedins_code = HOSPITAL) =>
  AnyEvent.parse({ event_id, event_type, event_time, schema_version: 1, source: { fixmedins_code }, payload })
const updated = (id: string, m: string, psn_no: string, time: string, change: Record<string, unknown>, inst = HOSPITAL) =>
  envelope('visit.updated', id, time, { mdtrt_id: m, psn_no, ...change }, inst)
const cancelled = (id: string, m: string, psn_no: string, time: string, cancels: 'visit' | 'discharge') =>
  envelope('visit.cancelled', id, time, { mdtrt_id: m, psn_no, cancels })
const byBatch = (id: string, m: string, psn_no: string, time: string, chrg_bchno: string) =>
  envelope('fee.reversed', id, time, { mdtrt_id: m, psn_no, chrg_bchno })
const diag = (diag_code: string) => ({ diag_code, diag_name: diag_code, maindiag_flag: '1' })

/** Lines uploaded in a charge batch: chrg_bchno rides on each line as a pass-through field. */
function upload(id: string, m: string, psn_no: string, chrg_bchno: string, lines: { sn: string; time: string; code?: string }[]) {
  const ev = feeUploaded({ event_id: id, mdtrt_id: m, psn_no, lines: lines.map((l) => ({ feedetl_sn: l.sn, fee_ocur_time: l.time, med_list_codg: l.code ?? 'DRUG-A', list_type: 'drug', med_chrgitm_type: '09' })) })
  return { ...ev, payload: { ...ev.payload, lines: ev.payload.lines.map((l) => ({ ...l, chrg_bchno })) } }
}

const load = async (psn: string) => (await loadPersons(app.store, [psn], Date.parse(t(1, 0)) - 30 * 86_400_000)).get(psn)!

describe('visit.updated', () => {
  it('a diagnosis that meets the indication withdraws the out-of-scope alert, and the visit stays updated after a restart', async () => {
    const psn = 'PSNUPD01'
    await replay([
      visitOpened({ event_id: 'U1-open', mdtrt_id: 'U1', psn_no: psn, begntime: t(2, 9), med_type: '11', diagnoses: [{ diag_code: 'J06.9' }] }),
      upload('U1-fee', 'U1', psn, 'B1', [{ sn: 'U1-L1', time: t(2, 10), code: 'DRUG-E' }]),
    ])
    const [raised] = await alertsOf('U1', 'out-of-scope')
    expect(raised!.status).toBe('active')
    const r = await replay([updated('U1-upd', 'U1', psn, t(2, 11), { diagnoses: [diag('E11.9')], adm_dept_codg: 'D02', atddr_no: 'DR0002', med_type: '14' })])
    expect(r.rejected).toBe(0)
    const [after] = await alertsOf('U1', 'out-of-scope')
    expect([after!.alert_id, after!.status, after!.withdrawn_reason, after!.revision_event_id]).toEqual([raised!.alert_id, 'withdrawn', 'reversed', 'U1-upd'])

    // The evidence shows the visit as it now stands.
    const claims = await loadClaims(app.store, [after!])
    expect(claims.visits.map((v) => [v.med_type, v.adm_dept_codg, v.atddr_no, v.diagnoses.map((d) => d.diag_code)])).toEqual([['14', 'D02', 'DR0002', ['E11.9']]])

    // A restart: the state reloaded from the store knows the change, so the same drug billed again is in scope.
    app.cache.clear()
    expect((await load(psn)).visits.get('U1')!.diagnoses.map((d) => d.diag_code)).toEqual(['E11.9'])
    await replay([upload('U1-fee2', 'U1', psn, 'B2', [{ sn: 'U1-L2', time: t(2, 12), code: 'DRUG-E' }])])
    expect((await alertsOf('U1', 'out-of-scope')).map((a) => a.status)).toEqual(['withdrawn'])
  })

  it('a diagnosis that no longer meets the indication raises the finding at the update, without waiting for a new line', async () => {
    const psn = 'PSNUPD02'
    await replay([
      visitOpened({ event_id: 'U2-open', mdtrt_id: 'U2', psn_no: psn, begntime: t(3, 9), med_type: '11', diagnoses: [{ diag_code: 'E11.9' }] }),
      upload('U2-fee', 'U2', psn, 'B1', [{ sn: 'U2-L1', time: t(3, 10), code: 'DRUG-E' }]),
    ])
    expect(await alertsOf('U2', 'out-of-scope')).toEqual([])
    await replay([updated('U2-upd', 'U2', psn, t(3, 11), { diagnoses: [diag('J06.9')] })])
    expect((await alertsOf('U2', 'out-of-scope')).map((a) => [a.status, a.revision_event_id, a.refs.feedetl_sns])).toEqual([['active', 'U2-upd', ['U2-L1']]])
  })

  it('a pre-check draft carries it: the diagnoses of a visit opened without them (national 2201 + 2203) are judged with the draft', async () => {
    const caller = { id: 'his', name: 'HIS', role: 'precheck' as const, admdvs: [], fixmedins_codes: [HOSPITAL] }
    const psn = 'PSNUPD04'
    const open = visitOpened({ event_id: 'U4-open', mdtrt_id: 'U4', psn_no: psn, begntime: t(5, 9), med_type: '11' })
    const lines = upload('U4-fee', 'U4', psn, 'B1', [{ sn: 'U4-L1', time: t(5, 10), code: 'DRUG-E' }])
    const outOfScope = (r: { findings: Alert[] }) => r.findings.filter((f) => f.detector.id === 'out-of-scope').length
    const withDiagnosis = (code: string) => precheck(app, caller, [open, updated('U4-upd', 'U4', psn, t(5, 9, 5), { med_type: '11', diagnoses: [diag(code)] }), lines], Date.parse(t(5, 11)))
    expect(outOfScope(await withDiagnosis('J06.9'))).toBe(1)
    expect(outOfScope(await withDiagnosis('E11.9'))).toBe(0)
  })

  it('is refused from another institution than the visit\'s (foreign_visit); one of a visit never seen is stored and flagged', async () => {
    const psn = 'PSNUPD03'
    await replay([visitOpened({ event_id: 'U3-open', mdtrt_id: 'U3', psn_no: psn, begntime: t(4, 9), med_type: '11' })])
    const r = await replay([updated('U3-upd', 'U3', psn, t(4, 10), { med_type: '14' }, HOSPITAL_2)])
    expect(r.rejectedByReason).toEqual({ foreign_visit: 1 })
    expect(await app.store.query(`SELECT event_id FROM ${app.store.t('visit_updates')} WHERE mdtrt_id = 'U3'`)).toEqual([])

    const u = await replay([updated('U4-upd', 'U4-NEVER', psn, t(4, 11), { med_type: '14' })])
    expect(u.rejected).toBe(0)
    expect(await app.store.query(`SELECT reason, refs FROM ${app.store.t('data_quality')} WHERE event_id = 'U4-upd'`)).toEqual([{ reason: 'update_of_unknown_visit', refs: ['U4-NEVER'] }])
  })
})

describe('visit.cancelled', () => {
  const duplicate = (m: string, psn: string, d: number) => [
    visitOpened({ event_id: `${m}-open`, mdtrt_id: m, psn_no: psn, begntime: t(d, 9), med_type: '11' }),
    upload(`${m}-fee`, m, psn, 'B1', [{ sn: `${m}-L1`, time: t(d, 10) }, { sn: `${m}-L2`, time: t(d, 10) }]),
  ]

  it('\'visit\' withdraws the alerts on the visit, and after a restart the visit still does not count', async () => {
    const psn = 'PSNCAN01'
    await replay(duplicate('C1', psn, 5))
    const [raised] = await alertsOf('C1', 'duplicate-charge')
    expect(raised!.status).toBe('active')
    await replay([cancelled('C1-cancel', 'C1', psn, t(5, 11), 'visit')])
    const [after] = await alertsOf('C1', 'duplicate-charge')
    expect([after!.status, after!.withdrawn_reason, after!.revision_event_id]).toEqual(['withdrawn', 'reversed', 'C1-cancel'])
    // The evidence says so: an inspector sees the visit was cancelled, and when.
    expect((await loadClaims(app.store, [after!])).visits.map((v) => [v.mdtrt_id, v.cancelled_at])).toEqual([['C1', new Date(t(5, 11)).toISOString()]])

    app.cache.clear()
    const state = await load(psn)
    expect([state.visits.has('C1'), state.cancelled.has('C1')]).toEqual([false, true])
    // A line of the cancelled visit billed again raises nothing: the visit no longer counts.
    await replay([upload('C1-fee2', 'C1', psn, 'B2', [{ sn: 'C1-L3', time: t(5, 10) }])])
    expect((await alertsOf('C1', 'duplicate-charge')).map((a) => a.status)).toEqual(['withdrawn'])
  })

  it('\'discharge\' opens the stay again: what rested on the discharge is revisited, and the reload holds no discharge', async () => {
    const psn = 'PSNCAN02'
    await replay([
      visitOpened({ event_id: 'C2-open', mdtrt_id: 'C2', psn_no: psn, begntime: t(10, 9), med_type: '21' }),
      feeUploaded({
        event_id: 'C2-beds', event_time: t(10, 10), mdtrt_id: 'C2', psn_no: psn,
        lines: Array.from({ length: 8 }, (_, i) => ({ feedetl_sn: `C2-B${i}`, fee_ocur_time: t(10 + i, 10), med_list_codg: 'BED-1', med_chrgitm_type: '01', pric: '50.00' })),
      }),
      visitClosed({ event_id: 'C2-close', mdtrt_id: 'C2', psn_no: psn, endtime: t(13, 10), dscg_maindiag_code: 'J18.9' }),
    ])
    // Four bed days dated after the discharge: a timing finding that rests on the discharge.
    const timing = () => alertsOf('C2', 'phantom-service').then((as) => as.filter((a) => a.evidence.rule !== 'bed_days'))
    const [lines] = await timing()
    expect(lines!.status).toBe('active')
    await replay([cancelled('C2-cancel', 'C2', psn, t(13, 12), 'discharge')])
    const [after] = await timing()
    // The lines are no longer after a discharge; the bed-day finding of the open stay covers them again.
    expect([after!.alert_id, after!.status, after!.withdrawn_reason, after!.revision_event_id]).toEqual([lines!.alert_id, 'withdrawn', 'superseded', 'C2-cancel'])
    const beds = (await alertsOf('C2', 'phantom-service')).filter((a) => a.evidence.rule === 'bed_days')
    expect(beds.map((a) => [a.status, a.evidence.stay_closed, a.evidence.bed_days_billed, a.revision_event_id])).toEqual([['updated', false, 8, 'C2-cancel']])

    app.cache.clear()
    const v = (await load(psn)).visits.get('C2')!
    expect([v.endtime, v.close_event_id]).toEqual([undefined, undefined])

    // The evidence shows the discharge as withdrawn, and when; discharged again later, the new discharge stands.
    const discharges = async () => (await loadClaims(app.store, [after!])).discharges.map((d) => [d.endtime, d.cancelled_at])
    expect(await discharges()).toEqual([[new Date(t(13, 10)).toISOString(), new Date(t(13, 12)).toISOString()]])
    await replay([visitClosed({ event_id: 'C2-close2', mdtrt_id: 'C2', psn_no: psn, endtime: t(18, 10), dscg_maindiag_code: 'J18.9' })])
    expect(await discharges()).toEqual([[new Date(t(18, 10)).toISOString(), null]])
    expect((await loadClaims(app.store, [after!])).visits.map((x) => x.cancelled_at)).toEqual([null])
  })
})

describe('fee.reversed by charge batch', () => {
  it('by chrg_bchno: withdraws the duplicate, stores reversal rows naming the batch\'s lines, and a restart reloads them reversed', async () => {
    const psn = 'PSNBCH01'
    await replay([
      visitOpened({ event_id: 'R1-open', mdtrt_id: 'R1', psn_no: psn, begntime: t(20, 9), med_type: '11' }),
      upload('R1-fee1', 'R1', psn, 'CB-1', [{ sn: 'R1-L1', time: t(20, 10) }]),
      upload('R1-fee2', 'R1', psn, 'CB-2', [{ sn: 'R1-L2', time: t(20, 10) }]),
    ])
    expect((await alertsOf('R1', 'duplicate-charge')).map((a) => a.status)).toEqual(['active'])
    const r = await replay([byBatch('R1-rev', 'R1', psn, t(20, 11), 'CB-2')])
    expect(r.rejected).toBe(0)
    expect((await alertsOf('R1', 'duplicate-charge')).map((a) => [a.status, a.withdrawn_reason])).toEqual([['withdrawn', 'reversed']])
    expect(await app.store.query(`SELECT feedetl_sn, event_id FROM ${app.store.t('fee_reversals')} FINAL WHERE mdtrt_id = 'R1'`)).toEqual([{ feedetl_sn: 'R1-L2', event_id: 'R1-rev' }])
    expect(await app.store.query(`SELECT feedetl_sn, chrg_bchno FROM ${app.store.t('fee_lines')} FINAL WHERE mdtrt_id = 'R1' ORDER BY feedetl_sn`))
      .toEqual([{ feedetl_sn: 'R1-L1', chrg_bchno: 'CB-1' }, { feedetl_sn: 'R1-L2', chrg_bchno: 'CB-2' }])

    app.cache.clear()
    const lines = (await load(psn)).visits.get('R1')!.lines
    expect([...lines.values()].map((l) => [l.feedetl_sn, l.chrg_bchno, l.reversed])).toEqual([['R1-L1', 'CB-1', false], ['R1-L2', 'CB-2', true]])
    // Reloaded, the state resolves a batch too: reversing CB-1 as well leaves nothing to flag.
    await replay([byBatch('R1-rev2', 'R1', psn, t(20, 12), 'CB-1')])
    expect(await app.store.query(`SELECT feedetl_sn FROM ${app.store.t('fee_reversals')} FINAL WHERE mdtrt_id = 'R1' ORDER BY feedetl_sn`)).toEqual([{ feedetl_sn: 'R1-L1' }, { feedetl_sn: 'R1-L2' }])
  })

  it('"0000": every line not yet settled — the lines after the settlement, not those before it — and after a restart too', async () => {
    const psn = 'PSNBCH02'
    await replay([
      visitOpened({ event_id: 'R2-open', mdtrt_id: 'R2', psn_no: psn, begntime: t(21, 9), med_type: '11' }),
      upload('R2-fee1', 'R2', psn, 'CB-1', [{ sn: 'R2-L1', time: t(21, 9, 30) }]),
      settlementCompleted({ event_id: 'R2-setl', setl_id: 'R2-S1', mdtrt_id: 'R2', psn_no: psn, setl_time: t(21, 9, 45), med_type: '11' }),
      upload('R2-fee2', 'R2', psn, 'CB-2', [{ sn: 'R2-L2', time: t(21, 10) }, { sn: 'R2-L3', time: t(21, 10) }]),
    ])
    expect((await alertsOf('R2', 'duplicate-charge')).map((a) => a.status)).toEqual(['active'])
    app.cache.clear()
    await replay([byBatch('R2-rev', 'R2', psn, t(21, 11), '0000')])
    expect((await alertsOf('R2', 'duplicate-charge')).map((a) => a.status)).toEqual(['withdrawn'])
    expect(await app.store.query(`SELECT feedetl_sn FROM ${app.store.t('fee_reversals')} FINAL WHERE mdtrt_id = 'R2' ORDER BY feedetl_sn`)).toEqual([{ feedetl_sn: 'R2-L2' }, { feedetl_sn: 'R2-L3' }])
  })

  it('in a pre-check draft: a reversal of the draft\'s own batch withdraws the draft\'s duplicate finding', async () => {
    const psn = 'PSNBCH04'
    await replay([
      visitOpened({ event_id: 'R4-open', mdtrt_id: 'R4', psn_no: psn, begntime: t(23, 9), med_type: '11' }),
      upload('R4-fee1', 'R4', psn, 'CB-1', [{ sn: 'R4-L1', time: t(23, 10) }]),
    ])
    const caller = { id: 'his', name: 'HIS', role: 'precheck' as const, admdvs: [], fixmedins_codes: [HOSPITAL] }
    const twice = upload('R4-fee2', 'R4', psn, 'CB-2', [{ sn: 'R4-L2', time: t(23, 10) }])
    const without = await precheck(app, caller, [twice], Date.parse(t(23, 11)))
    expect(without.findings.map((f) => f.detector.id)).toContain('duplicate-charge')
    const withReversal = await precheck(app, caller, [twice, byBatch('R4-rev', 'R4', psn, t(23, 10, 30), 'CB-2')], Date.parse(t(23, 11)))
    expect(withReversal.findings.map((f) => f.detector.id)).not.toContain('duplicate-charge')
  })

  it('one no line answers is stored as sent and flagged reversal_of_unknown_batch, reversing nothing', async () => {
    const psn = 'PSNBCH03'
    await replay([
      visitOpened({ event_id: 'R3-open', mdtrt_id: 'R3', psn_no: psn, begntime: t(22, 9), med_type: '11' }),
      upload('R3-fee', 'R3', psn, 'CB-1', [{ sn: 'R3-L1', time: t(22, 10) }]),
    ])
    const r = await replay([byBatch('R3-rev', 'R3', psn, t(22, 11), 'CB-NONE')])
    expect(r.rejected).toBe(0)
    expect(await app.store.query(`SELECT reason, refs FROM ${app.store.t('data_quality')} WHERE event_id = 'R3-rev'`)).toEqual([{ reason: 'reversal_of_unknown_batch', refs: ['CB-NONE'] }])
    expect(await app.store.query(`SELECT feedetl_sn FROM ${app.store.t('fee_reversals')} WHERE mdtrt_id = 'R3'`)).toEqual([])
    expect(await app.store.query(`SELECT event_id FROM ${app.store.t('events')} WHERE event_id = 'R3-rev'`)).toEqual([{ event_id: 'R3-rev' }])
  })
})

describe('visit.opened without psn', () => {
  it('age checks fall back to the knowledge base\'s person, before and after a restart', async () => {
    const psn = 'PSNNOPSN01'
    const open = visitOpened({ event_id: 'P1-open', mdtrt_id: 'P1', psn_no: psn, begntime: t(25, 9), med_type: '11' }) as unknown as { payload: Record<string, unknown> }
    delete open.payload.psn
    await replay([open, upload('P1-fee', 'P1', psn, 'CB-1', [{ sn: 'P1-L1', time: t(25, 10), code: 'DRUG-KID' }])])
    expect((await alertsOf('P1', 'restricted-item')).map((a) => a.status)).toEqual(['active'])
    expect(await app.store.query(`SELECT gend, brdy FROM ${app.store.t('visits')} FINAL WHERE mdtrt_id = 'P1'`)).toEqual([{ gend: '9', brdy: '' }])

    app.cache.clear()
    const state = await load(psn)
    expect([state.gend, state.brdy]).toEqual([undefined, undefined])
    await replay([upload('P1-fee2', 'P1', psn, 'CB-2', [{ sn: 'P1-L2', time: t(25, 11), code: 'DRUG-KID' }])])
    const [a] = await alertsOf('P1', 'restricted-item')
    expect(a!.refs.feedetl_sns.sort()).toEqual(['P1-L1', 'P1-L2'])
  })
})
