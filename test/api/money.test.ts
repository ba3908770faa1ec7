import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alertRow } from '../../src/store/rows.ts'
import { alertsById } from '../../src/store/alerts.ts'
import { feeUploaded, visitOpened } from '../helpers/detect.ts'
import { INST_A, fixture, type Fixture } from './fixture.ts'

// Issue 8 item 3: one stored alert with a large amount must not break the feed,
// money is bounded as the national interface bounds it, and a row that still
// does not fit the response schema is answered degraded, never as a 500.

const PSN = 'PSNBIG000001'
const MDTRT = 'MDTBIG0001'
// cnt 1000 × pric 999999999.99999 = 999,999,999,999.99 — three such lines: two are duplicates.
const big = { fee_ocur_time: '2026-03-02T10:00:00+08:00', med_list_codg: 'DRUG-A', list_type: 'drug' as const, med_chrgitm_type: '09', cnt: '1000', pric: '999999999.99999', det_item_fee_sumamt: '999999999999.99' }
const events = [
  visitOpened({ event_id: 'big-open', mdtrt_id: MDTRT, psn_no: PSN, begntime: '2026-03-02T09:00:00+08:00', med_type: '11', fixmedins_code: INST_A }),
  feeUploaded({ event_id: 'big-fee', mdtrt_id: MDTRT, psn_no: PSN, fixmedins_code: INST_A, lines: [1, 2, 3].map((i) => ({ ...big, feedetl_sn: `BIG-${i}` })) }),
]

let fx: Fixture
beforeAll(async () => {
  fx = await fixture()
  await fx.ingest(events)
})
afterAll(async () => fx?.close())

describe('money at the contract\'s bounds', () => {
  it('stores and serves an amount at risk beyond twelve digits, exactly, in every view', async () => {
    for (const sort of ['newest', 'amount']) {
      const res = await fx.call('monitor', 'GET', `/api/v1/alerts?sort=${sort}&detector=duplicate-charge`)
      expect(res.statusCode, res.body).toBe(200)
      const [a] = res.json().alerts
      expect(a.amount_at_risk).toBe('1999999999999.98')
    }
    const list = (await fx.call('monitor', 'GET', '/api/v1/alerts?detector=duplicate-charge')).json().alerts
    const detail = await fx.call('monitor', 'GET', `/api/v1/alerts/${list[0].alert_id}`)
    expect(detail.statusCode, detail.body).toBe(200)
    expect(detail.json().alert.amount_at_risk).toBe('1999999999999.98')
    const filtered = await fx.call('monitor', 'GET', '/api/v1/alerts?amount_min=1999999999999.98&detector=duplicate-charge')
    expect(filtered.json().alerts).toHaveLength(1)
    const above = await fx.call('monitor', 'GET', '/api/v1/alerts?amount_min=1999999999999.99&detector=duplicate-charge')
    expect(above.json().alerts).toHaveLength(0)
  })

  it('answers the pre-check of the same draft', async () => {
    const draft = events.map((e) => ({ ...e, event_id: `pre-${e.event_id}`, payload: { ...e.payload, mdtrt_id: 'MDTBIG0002' } }))
    const res = await fx.call('precheck', 'POST', '/api/v1/precheck', { events: draft })
    expect(res.statusCode, res.body).toBe(200)
    expect(JSON.stringify(res.json())).toContain('1999999999999.98')
  })

  it('refuses a figure the national interface cannot carry', async () => {
    const tooBig = { ...big, feedetl_sn: 'BIG-X', cnt: '1', pric: '1000000000000000.00', det_item_fee_sumamt: '1000000000000000.00' }
    const res = await fx.call('precheck', 'POST', '/api/v1/precheck', { events: [{ ...events[1], event_id: 'pre-too-big', payload: { ...events[1]!.payload, lines: [tooBig] } }] })
    expect(res.statusCode).toBe(400)
  })
})

describe('a stored alert that does not fit the response schema', () => {
  it('is answered degraded and logged with its id; the page and the detail still answer', async () => {
    const [good] = (await fx.call('monitor', 'GET', '/api/v1/alerts?detector=duplicate-charge')).json().alerts
    const [stored] = await alertsById(fx.app.store, [good.alert_id])
    const badId = 'f'.repeat(32)
    // A row written by something other than this version of the pipeline: its institution code is not one.
    await fx.app.store.insert('alerts', [{ ...alertRow({ ...stored!.alert, alert_id: badId, detected_at: '2026-03-02T15:00:00.000+08:00' }, '370702'), fixmedins_code: 'NOT-A-CODE' }])

    const res = await fx.call('monitor', 'GET', '/api/v1/alerts')
    expect(res.statusCode, res.body).toBe(200)
    const items = res.json().alerts as { alert_id: string; degraded?: boolean; amount_at_risk?: string }[]
    expect(items.find((a) => a.alert_id === badId)).toMatchObject({ degraded: true })
    expect(items.find((a) => a.alert_id === good.alert_id)?.amount_at_risk).toBe('1999999999999.98')
    expect(fx.app.logs.lines.some((l) => l.alert_id === badId && String(l.fields).includes('subject.fixmedins_code'))).toBe(true)
    expect(JSON.stringify(fx.app.logs.lines.filter((l) => l.alert_id === badId))).not.toContain('NOT-A-CODE')

    const detail = await fx.call('monitor', 'GET', `/api/v1/alerts/${badId}`)
    expect(detail.statusCode, detail.body).toBe(200)
    expect(detail.json().alert).toMatchObject({ alert_id: badId, degraded: true })
  })
})
