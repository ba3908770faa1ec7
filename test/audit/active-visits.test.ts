import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AnyEvent } from '../../schemas/index.ts'
import { activeDischarges, activeLines, activeSettlements, activeVisits } from '../../src/audit/sql.ts'
import { replayFile } from '../../src/cli/replay.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { HOSPITAL, feeUploaded, institution, item, makeKb, settlementCompleted, visitClosed, visitOpened } from '../helpers/detect.ts'

// The audit (事后) detectors read history from SQL, not from person state: the
// visits they see must be the visits as they now stand — updated by
// visit.updated (national 2203/2403), without those cancelled whole (2202/2404),
// with a withdrawn discharge (2405) no longer counting.

const kb = makeKb({ institutions: [institution(HOSPITAL, { level: 3 })], catalog: [item('DRUG-A', { list_type: 'drug', med_chrgitm_type: '09' })] })
const t = (d: number, h: number) => `2026-04-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00+08:00`
const env = (event_type: string, event_id: string, event_time: string, payload: Record<string, unknown>) =>
  AnyEvent.parse({ event_id, event_type, event_time, schema_version: 1, source: { fixmedins_code: HOSPITAL }, payload })

let app: TestApp
beforeAll(async () => {
  app = await testApp({ kb })
  const psn = 'PSNAUDIT01'
  const line = (sn: string, time: string) => ({ feedetl_sn: sn, fee_ocur_time: time, med_list_codg: 'DRUG-A', list_type: 'drug' as const, med_chrgitm_type: '09' })
  const events = [
    // An outpatient visit as the national 2201 opens it, then 2203 says what it was.
    visitOpened({ event_id: 'o1', mdtrt_id: 'V-UPD', psn_no: psn, med_type: '11', begntime: t(1, 9) }),
    env('visit.updated', 'u1', t(1, 9), { mdtrt_id: 'V-UPD', psn_no: psn, med_type: '14', diagnoses: [{ diag_code: 'E11.900', diag_name: '2型糖尿病', maindiag_flag: '1' }] }),
    env('visit.updated', 'u2', t(1, 10), { mdtrt_id: 'V-UPD', psn_no: psn, atddr_no: 'DR0099' }),
    feeUploaded({ event_id: 'f1', mdtrt_id: 'V-UPD', psn_no: psn, lines: [line('U1', t(1, 10))] }),
    settlementCompleted({ event_id: 's1', setl_id: 'S-UPD', mdtrt_id: 'V-UPD', psn_no: psn, setl_time: t(1, 11), med_type: '14' }),
    // A registration withdrawn whole.
    visitOpened({ event_id: 'o2', mdtrt_id: 'V-CXL', psn_no: psn, med_type: '11', begntime: t(2, 9) }),
    feeUploaded({ event_id: 'f2', mdtrt_id: 'V-CXL', psn_no: psn, lines: [line('C1', t(2, 9))] }),
    settlementCompleted({ event_id: 's2', setl_id: 'S-CXL', mdtrt_id: 'V-CXL', psn_no: psn, setl_time: t(2, 10), med_type: '11' }),
    env('visit.cancelled', 'c2', t(2, 12), { mdtrt_id: 'V-CXL', psn_no: psn, cancels: 'visit' }),
    // A stay discharged, the discharge withdrawn, discharged again later; and one whose withdrawn discharge stands alone.
    visitOpened({ event_id: 'o3', mdtrt_id: 'V-DIS', psn_no: psn, begntime: t(3, 9) }),
    visitClosed({ event_id: 'd3a', mdtrt_id: 'V-DIS', psn_no: psn, endtime: t(5, 9), dscg_maindiag_code: 'J18.900' }),
    env('visit.cancelled', 'c3', t(5, 12), { mdtrt_id: 'V-DIS', psn_no: psn, cancels: 'discharge' }),
    visitClosed({ event_id: 'd3b', mdtrt_id: 'V-DIS', psn_no: psn, endtime: t(8, 9), dscg_maindiag_code: 'J18.900' }),
    visitOpened({ event_id: 'o4', mdtrt_id: 'V-OPEN', psn_no: psn, begntime: t(10, 9) }),
    visitClosed({ event_id: 'd4', mdtrt_id: 'V-OPEN', psn_no: psn, endtime: t(12, 9), dscg_maindiag_code: 'J18.900' }),
    env('visit.cancelled', 'c4', t(12, 12), { mdtrt_id: 'V-OPEN', psn_no: psn, cancels: 'discharge' }),
  ]
  const file = join(mkdtempSync(join(tmpdir(), 'fw-active-')), 'events.jsonl')
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n')
  const r = await replayFile(app, file, { batchSize: 4 })
  expect(r.rejected).toBe(0)
})
afterAll(async () => app?.close())

describe('history as the audit detectors read it', () => {
  it('visits carry their latest update, and a visit cancelled whole is gone with its lines and settlements', async () => {
    const visits = await app.store.query<{ mdtrt_id: string; med_type: string; atddr_no: string; diags: string[] }>(
      `SELECT mdtrt_id, med_type, atddr_no, arrayMap(d -> d.diag_code, diagnoses) AS diags FROM (${activeVisits(app.store)}) ORDER BY mdtrt_id`)
    expect(visits).toEqual([
      { mdtrt_id: 'V-DIS', med_type: '21', atddr_no: 'DR0001', diags: [] },
      { mdtrt_id: 'V-OPEN', med_type: '21', atddr_no: 'DR0001', diags: [] },
      { mdtrt_id: 'V-UPD', med_type: '14', atddr_no: 'DR0099', diags: ['E11.900'] },
    ])
    expect((await app.store.query<{ sn: string }>(`SELECT feedetl_sn AS sn FROM (${activeLines(app.store)}) ORDER BY sn`)).map((r) => r.sn)).toEqual(['U1'])
    expect((await app.store.query<{ id: string }>(`SELECT setl_id AS id FROM (${activeSettlements(app.store)}) ORDER BY id`)).map((r) => r.id)).toEqual(['S-UPD'])
  })

  it('a withdrawn discharge no longer counts; one sent after it does', async () => {
    const d = await app.store.query<{ mdtrt_id: string; endtime: string }>(`SELECT mdtrt_id, toString(endtime) AS endtime FROM (${activeDischarges(app.store)}) ORDER BY mdtrt_id`)
    expect(d).toEqual([{ mdtrt_id: 'V-DIS', endtime: '2026-04-08 01:00:00.000' }])
  })
})
