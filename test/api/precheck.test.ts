import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { feeUploaded, visitOpened } from '../helpers/detect.ts'
import { INST_A, INST_B, eventsFor, fixture, people, type Fixture } from './fixture.ts'

/**
 * 事前提醒: a hospital HIS sends a draft claim before settlement and hears
 * what the pre-stage detectors would flag — against the person's stored
 * history, storing nothing, touching no processor state.
 */
let fx: Fixture
beforeAll(async () => {
  fx = await fixture()
})
afterAll(async () => fx?.close())

interface Finding { alert_id: string; detector: { id: string }; stage: string; result: string; refs: { feedetl_sns: string[] } }
const check = async (events: unknown[], who: 'precheck' | 'monitor' = 'precheck') => fx.call(who, 'POST', '/api/v1/precheck', { events })
const count = async (table: string) => Number((await fx.app.store.query<{ c: string }>(`SELECT count() AS c FROM ${fx.app.store.t(table)}`))[0]!.c)
const at = (h: number, m = 0) => `2026-03-02T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+08:00`

describe('pre-check', () => {
  it('flags a duplicated line and a women-only item for a man, stores nothing, leaves the processors\' state alone', async () => {
    const p = people(1, INST_A, 800)[0]!
    const draft = eventsFor(p, 2, 'pre').slice(0, 2) // visit.opened + fee.uploaded, not settled
    const before = { events: await count('events'), alerts: await count('alerts') }
    const res = await check(draft)
    expect(res.statusCode).toBe(200)
    const body = res.json() as { psn_no: string; findings: Finding[]; violation: boolean; ms: number }
    expect(body.psn_no).toBe(p.psn_no)
    expect(body.findings.map((f) => f.detector.id).sort()).toEqual(['duplicate-charge', 'restricted-item', 'restricted-item'])
    expect(body.findings.every((f) => f.stage === 'pre')).toBe(true)
    expect(body.violation).toBe(true)
    expect(await count('events')).toBe(before.events)
    expect(await count('alerts')).toBe(before.alerts)
    expect(fx.app.cache.get(p.psn_no)).toBeUndefined()
    // The same facts, later settled and streamed, raise 事中 alerts under the very same ids.
    await fx.ingest(eventsFor(p, 2, 'pre'))
    const stored = await fx.app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE psn_no = {p:String}`, { p: p.psn_no })
    expect(stored.map((r) => r.alert_id).sort()).toEqual(body.findings.map((f) => f.alert_id).sort())
    const metrics = await fx.app.metrics.precheckSeconds.get()
    expect(metrics.values.find((v) => v.metricName === 'fundwatch_precheck_seconds_count' && v.labels.outcome === 'findings')?.value).toBeGreaterThanOrEqual(1)
  })

  it('answers a clean draft with no findings', async () => {
    const p = people(1, INST_A, 810)[0]!
    const [open, fee] = eventsFor(p, 2, 'clean') as [AnyEvent, AnyEvent & { event_type: 'fee.uploaded' }]
    const oneLine = { ...fee, payload: { ...fee.payload, lines: fee.payload.lines.slice(0, 1) } }
    const res = await check([open, oneLine])
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ findings: [], violation: false })
  })

  it('checks a draft against the stored history: the visit opened earlier says the patient is a man', async () => {
    const p = people(1, INST_A, 820)[0]!
    const mdtrt = 'MDTHIST0820'
    await fx.ingest([visitOpened({ event_id: 'hist-open-820', mdtrt_id: mdtrt, psn_no: p.psn_no, begntime: at(8), med_type: '11', gend: '1', brdy: p.brdy, fixmedins_code: INST_A })])
    const line = feeUploaded({ event_id: 'draft-fee-820', mdtrt_id: mdtrt, psn_no: p.psn_no, fixmedins_code: INST_A, lines: [{ feedetl_sn: `${mdtrt}-1`, fee_ocur_time: at(9), med_list_codg: 'SVC-OBST', pric: '120.00' }] })
    const res = await check([line])
    expect(res.statusCode).toBe(200)
    const findings = (res.json() as { findings: Finding[] }).findings
    expect(findings.map((f) => [f.detector.id, f.refs.feedetl_sns])).toEqual([['restricted-item', [`${mdtrt}-1`]]])
  })

  it('refuses other institutions, other event types, several persons and malformed events, each with its reason', async () => {
    const a = eventsFor(people(1, INST_A, 830)[0]!, 2, 'bad')
    const b = eventsFor(people(1, INST_B, 831)[0]!, 2, 'bad')
    const other = await check(b.slice(0, 2))
    expect([other.statusCode, other.json().error]).toEqual([403, 'FORBIDDEN'])
    // A monitor is unscoped: the same Beijing draft is checked.
    expect((await check(b.slice(0, 2), 'monitor')).statusCode).toBe(200)
    const settled = await check(a)
    expect([settled.statusCode, settled.json().message]).toEqual([400, expect.stringContaining('not settlement.completed')])
    const two = await check([a[0], eventsFor(people(1, INST_A, 832)[0]!, 2, 'two')[0]])
    expect([two.statusCode, two.json().message]).toEqual([400, expect.stringContaining('one person')])
    const broken = { ...a[1]!, payload: { ...(a[1]!.payload as object), mdtrt_id: undefined } }
    const bad = await check([a[0], broken])
    expect(bad.statusCode).toBe(400)
    expect(bad.json().message).toMatch(/^events\[1\]: \S+@payload\.mdtrt_id/)
    expect((await check([])).statusCode).toBe(400)
  })
})
