import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { replayFile } from '../../src/cli/replay.ts'
import { memorySource } from '../../src/pipeline/sources.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { institution, makeKb } from '../helpers/detect.ts'
import { SAMPLES, fixture, line } from './helpers.ts'

/**
 * Every sample of ../shared/national/samples (read from there, as the issue
 * asks; test/national/fixtures.test.ts keeps the project's copy equal) through
 * the real pipeline into real chDB, as a `replay --format national` file: the
 * stored events and typed rows, per transaction.
 */
const HOSP = 'H37070200001'
const PHARM = 'P37070200017'
const kb = makeKb({ institutions: [institution(HOSP, { admdvs: '370702' }), institution(PHARM, { admdvs: '370702', level: 0, type: '药店' })] })

// The samples' story: stock flow, the inpatient stay, the outpatient visit, then the withdrawals shown separately.
const ORDER = [
  '3501', '3502', '3503', '3504', '3505', '3506',
  '2401', '3101', '2403', '2301', '3103', '2402', '2303', '2304',
  '2201', '2203', '2203A', '2204', '3102', '2206', '2207',
  '2302', '2305', '2405', '2404', '2208', '2205', '2202',
]
const sampleLine = (infno: string) => line(JSON.parse(readFileSync(join(SAMPLES, `${infno}.json`), 'utf8')))

let app: TestApp
let file: string
beforeAll(async () => {
  app = await testApp({ kb })
  file = join(mkdtempSync(join(tmpdir(), 'fw-national-')), 'transactions.jsonl')
  writeFileSync(file, ORDER.map(sampleLine).join('\n') + '\n')
})
afterAll(async () => app?.close())

const q = <T>(sql: string) => app.store.query<T>(sql)
const t = (table: string) => app.store.t(table)
const msgid = (infno: string) => JSON.parse(sampleLine(infno)).request.msgid as string

describe('the national samples through the pipeline', () => {
  it('stores every transaction that is a fact, ignores and counts the others, refuses none', async () => {
    const r = await replayFile(app, file, { format: 'national', batchSize: 5 })
    expect(r.rejectedByReason).toEqual({})
    expect(r.records).toBe(28)
    expect(r.ignored).toBe(5)
    // 23 transactions are facts; 2301 holds an upload and a refund.
    expect(r.events).toBe(24)
    const counted = (await app.metrics.nationalIgnored.get()).values.map((v) => `${v.labels.infno}:${v.labels.reason}=${v.value}`).sort()
    expect(counted).toEqual(['2206:not_a_fact=1', '2303:not_a_fact=1', '3101:not_a_fact=1', '3102:not_a_fact=1', '3103:not_a_fact=1'])
  })

  it('one event per transaction, id = msgid (msgid.n when several), raw = the record as received, position = its line', async () => {
    const rows = await q<{ event_id: string; event_type: string; raw: string; source_pos: string; fixmedins_code: string }>(`SELECT event_id, event_type, raw, source_pos, fixmedins_code FROM ${t('events')} FINAL`)
    const byId = new Map(rows.map((e) => [e.event_id, e]))
    const expected: [string, string][] = [
      ['2201', 'visit.opened'], ['2202', 'visit.cancelled'], ['2203', 'visit.updated'], ['2203A', 'visit.updated'], ['2204', 'fee.uploaded'],
      ['2205', 'fee.reversed'], ['2207', 'settlement.completed'], ['2208', 'settlement.reversed'], ['2302', 'fee.reversed'],
      ['2304', 'settlement.completed'], ['2305', 'settlement.reversed'], ['2401', 'visit.opened'], ['2402', 'visit.closed'], ['2403', 'visit.updated'],
      ['2404', 'visit.cancelled'], ['2405', 'visit.cancelled'], ['3501', 'inventory.movement'], ['3502', 'inventory.movement'], ['3503', 'inventory.movement'],
      ['3504', 'inventory.movement'], ['3505', 'inventory.movement'], ['3506', 'inventory.movement'],
    ]
    for (const [infno, type] of expected) {
      const e = byId.get(msgid(infno))
      expect(e?.event_type, infno).toBe(type)
      expect(e!.raw, infno).toBe(sampleLine(infno))
      expect(e!.source_pos, infno).toBe(`${file}:${ORDER.indexOf(infno) + 1}`)
      expect(e!.fixmedins_code).toBe(infno.startsWith('35') ? PHARM : HOSP)
    }
    const ipt = msgid('2301')
    expect([byId.get(`${ipt}.1`)?.event_type, byId.get(`${ipt}.2`)?.event_type]).toEqual(['fee.uploaded', 'fee.reversed'])
    expect(byId.get(`${ipt}.2`)!.raw).toBe(sampleLine('2301'))
    expect(rows).toHaveLength(24)
  })

  it('typed rows: visits with the person read from the resident ID, fee lines with the platform\'s item types', async () => {
    const visits = await q<Record<string, string>>(`SELECT mdtrt_id, psn_no, med_type, insuplc_admdvs, ipt_otp_no, adm_dept_codg, atddr_no, gend, brdy, certno, length(diagnoses) AS n FROM ${t('visits')} FINAL ORDER BY mdtrt_id`)
    expect(visits).toEqual([
      { mdtrt_id: '370700G00000000012345678', psn_no: '37070000000000000000001234', med_type: '11', insuplc_admdvs: '370700', ipt_otp_no: 'MZ202403150087', adm_dept_codg: '0301', atddr_no: 'D370702000123', gend: '1', brdy: '1987-03-15', certno: '370702198703159992', n: 0 },
      { mdtrt_id: '370700G00000000012349001', psn_no: '37070000000000000000005678', med_type: '21', insuplc_admdvs: '370700', ipt_otp_no: 'ZY202403100012', adm_dept_codg: '0402', atddr_no: 'D370702000789', gend: '2', brdy: '1955-06-20', certno: '370703195506209981', n: 1 },
    ])
    const lines = await q<Record<string, string>>(`SELECT event_id, feedetl_sn, med_chrgitm_type, list_type, toString(cnt) AS cnt, toString(det_item_fee_sumamt) AS amt, prd_days FROM ${t('fee_lines')} FINAL ORDER BY event_id, feedetl_sn`)
    expect(lines.map((l) => [l.event_id, l.feedetl_sn, l.med_chrgitm_type, l.list_type, l.cnt, l.amt, l.prd_days])).toEqual([
      [`${msgid('2301')}.1`, '1', '01', 'service', '1', '60', null],
      [`${msgid('2301')}.1`, '2', '09', 'drug', '6', '396', null],
      [`${msgid('2301')}.1`, '3', '08', 'consumable', '2', '12.4', null],
      [msgid('2204'), '1', '02', 'service', '1', '10', null],
      [msgid('2204'), '2', '09', 'drug', '2', '57', 14],
      [msgid('2204'), '3', '04', 'service', '1', '25', null],
    ])
  })

  it('typed rows: line reversals (a 2301 refund line, a 2302), settlements and their reversals, the discharge, the stock flow', async () => {
    const rev = await q<{ event_id: string; feedetl_sn: string }>(`SELECT event_id, feedetl_sn FROM ${t('fee_reversals')} FINAL WHERE event_id IN ('${msgid('2301')}.2', '${msgid('2302')}') ORDER BY event_id`)
    expect(rev).toEqual([{ event_id: `${msgid('2301')}.2`, feedetl_sn: '1' }, { event_id: msgid('2302'), feedetl_sn: '3' }])
    const setl = await q<Record<string, string>>(`SELECT setl_id, med_type, toString(medfee_sumamt) AS total, toString(psn_cash_pay) AS cash, setl_time FROM ${t('settlements')} FINAL ORDER BY setl_id`)
    expect(setl).toEqual([
      { setl_id: '370700S00000000023456789', med_type: '11', total: '92', cash: '0', setl_time: '2024-03-15 01:35:41.000' },
      { setl_id: '370700S00000000023459001', med_type: '21', total: '6820.4', cash: '1568.73', setl_time: '2024-03-20 02:05:33.000' },
    ])
    expect((await q<{ setl_id: string }>(`SELECT setl_id FROM ${t('settlement_reversals')} FINAL ORDER BY setl_id`)).map((s) => s.setl_id)).toEqual(['370700S00000000023456789', '370700S00000000023459001'])
    expect(await q(`SELECT mdtrt_id, dscg_way, dscg_maindiag_code, length(diagnoses) AS n FROM ${t('discharges')} FINAL`)).toEqual([{ mdtrt_id: '370700G00000000012349001', dscg_way: '1', dscg_maindiag_code: 'J18.900', n: 2 }])
    const stock = await q<Record<string, string>>(`SELECT event_id, kind, toString(cnt) AS cnt, movement_time, batch_no, setl_id FROM ${t('inventory_movements')} FINAL ORDER BY movement_time`)
    expect(stock.map((s) => [s.kind, s.cnt, s.movement_time, s.batch_no, s.setl_id])).toEqual([
      ['stock_count', '240', '2024-03-01 00:30:00.000', 'PC20240301001', ''],
      ['return', '20', '2024-03-05 06:20:00.000', 'PC20240301001', ''],
      ['purchase', '200', '2024-03-06 02:00:00.000', 'PC20240306002', ''],
      ['return', '16', '2024-03-08 07:00:00.000', 'PC20240306002', ''],
      ['sale', '2', '2024-03-16 08:42:00.000', 'PC20240306002', '370700S00000000023457777'],
      ['purchase', '1', '2024-03-17 01:05:00.000', 'PC20240306002', '370700S00000000023457777'],
    ])
  })

  it('changes nothing when the file is replayed again: every event of a record is a redelivery, none a conflict', async () => {
    const r = await replayFile(app, file, { format: 'national', batchSize: 7 })
    expect(r.rejectedByReason).toEqual({})
    expect(r.events).toBe(24)
    for (const table of ['events', 'fee_lines', 'fee_reversals', 'inventory_movements']) await app.store.command(`OPTIMIZE TABLE ${t(table)} FINAL`)
    expect(await q(`SELECT count() AS c FROM ${t('events')}`)).toEqual([{ c: 24 }])
    expect(await q(`SELECT count() AS c FROM ${t('fee_lines')}`)).toEqual([{ c: 6 }])
  })

  it('each event of a record refused on its own is its own dead letter', async () => {
    // Two visits of another institution (opened by its own 2201s), then one 2204 of this hospital naming both.
    const other = 'H37070200002'
    app.setKb(makeKb({ institutions: [institution(HOSP), institution(PHARM, { level: 0 }), institution(other)] }))
    const open = (n: string) => {
      const r = fixture('samples/2201')
      Object.assign(r.request, { fixmedins_code: other, msgid: `${other}2024031509124000${n}` })
      r.response.output.data.mdtrt_id = `370700G0000000009999000${n}`
      return line(r)
    }
    const fee = fixture('samples/2204')
    fee.request.msgid = 'H37070200001202403150931209999'
    fee.request.input.feedetail[0].mdtrt_id = '370700G00000000099990001'
    fee.request.input.feedetail[1].mdtrt_id = '370700G00000000099990002'
    fee.request.input.feedetail[2].mdtrt_id = '370700G00000000099990001'
    const rec = Buffer.from(line(fee))
    const r = await app.pipeline().run(memorySource([[open('1'), open('2')].map((v, i) => ({ value: Buffer.from(v), pos: `t/0/${i}`, owner: 't/0', format: 'national' as const })), [{ value: rec, pos: 't/0/2', owner: 't/0', format: 'national' }]]), new AbortController().signal)
    expect(r.rejectedByReason).toEqual({ foreign_visit: 2 })
    const dl = await q<{ dlq_id: string; detail: string; source: string }>(`SELECT dlq_id, detail, source FROM ${t('dead_letters')} FINAL WHERE source = 't/0/2' ORDER BY detail`)
    expect(dl.map((d) => d.detail.slice(0, 27))).toEqual(['event 1 of the record: visi', 'event 2 of the record: visi'])
    expect(new Set(dl.map((d) => d.dlq_id)).size).toBe(2)
  })
})
