import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { buildServer } from '../../src/api/server.ts'
import { Users } from '../../src/auth/users.ts'
import { PRECHECK_BODY_LIMIT, PRECHECK_MAX_EVENTS } from '../../src/precheck/precheck.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { feeReversed, feeUploaded, institution, item, makeKb, settlementCompleted, visitClosed, visitOpened } from '../helpers/detect.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

/**
 * Issue 8 (5): the pre-check was an oracle over other institutions' patients.
 * Hospital A's HIS sent a draft for any psn_no and the answer quoted the other
 * visit's institution, times, ids and a death date. Every pre-stage detector
 * that reads history from other institutions is driven here with such history;
 * the answer must tell A what it needs to act and nothing of B's or C's records.
 */
const A = 'H37070200001' // the HIS calling, Weifang
const B = 'H11010500001' // another hospital, Beijing
const C = 'P11010500009' // another pharmacy, Beijing
const DRUG = 'XC08CAA001'
const DIAL = '311000006'
const kb = makeKb({
  institutions: [
    institution(A, { level: 2, admdvs: '370702', name: '潍坊市第一医院', lat: 36.71, lon: 119.16 }),
    institution(B, { level: 3, admdvs: '110105', name: '朝阳区中心医院', lat: 39.92, lon: 116.44 }),
    institution(C, { level: 0, admdvs: '110105', name: '朝阳大药房', lat: 39.93, lon: 116.45 }),
  ],
  catalog: [
    item(DRUG, { name: '氨氯地平片', list_type: 'drug', med_chrgitm_type: '09', max_prd_days: 30 }),
    item(DIAL, { name: '血液透析', dialysis: true }),
    item('SVC-A'),
  ],
})

let app: TestApp
let server: FastifyInstance
let token: string
beforeAll(async () => {
  // split-prescription looks across institutions only when told to.
  app = await testApp({ kb, rules: { detectors: { 'split-prescription': { params: { same_institution: false } } } } })
  server = await buildServer(app, { now: () => Date.parse('2026-03-10T12:00:00+08:00'), webDir: false, rateLimitPerMinute: 100_000 })
  token = (await new Users(app.store).create({ name: 'HIS-潍坊一院', role: 'precheck', fixmedins_codes: [A] }, 'cli')).token
})
afterAll(async () => {
  await server?.close()
  await app?.close()
})

const ingest = (events: AnyEvent[]) => app.pipeline().run(generatorSource(events, { batchSize: 50 }), new AbortController().signal)
const precheck = (events: unknown[]) => server.inject({ method: 'POST', url: '/api/v1/precheck', headers: { authorization: `Bearer ${token}` }, payload: { events } })
const t = (d: number, hm: string) => `2026-03-${String(d).padStart(2, '0')}T${hm}:00+08:00`

/** Everything of B's and C's records that must never reach A: codes, names, region, ids, doctors, diagnoses, times. */
function foreignTokens(history: AnyEvent[], extra: string[] = []): string[] {
  const out = new Set<string>([B, C, '朝阳区中心医院', '朝阳大药房', '110105', 'DRB0001', 'DEPTB01', ...extra])
  for (const e of history) {
    out.add(e.event_id)
    const p = e.payload as Record<string, unknown>
    for (const k of ['mdtrt_id', 'setl_id']) if (typeof p[k] === 'string') out.add(p[k] as string)
    if (e.event_type === 'fee.uploaded') for (const l of e.payload.lines) { out.add(l.feedetl_sn); out.add(l.fee_ocur_time.slice(0, 16)) }
    if (e.event_type === 'visit.opened') { out.add(e.payload.begntime.slice(0, 16)); for (const d of e.payload.diagnoses) out.add(d.diag_code) }
    if (e.event_type === 'visit.closed') { out.add(e.payload.endtime.slice(0, 16)); out.add(e.payload.dscg_maindiag_code) }
    if (e.event_type === 'settlement.completed') out.add(e.payload.setl_time.slice(0, 16))
  }
  return [...out]
}

const bOpen = (psn_no: string, id: string, begntime: string, med_type = '11', fixmedins_code = B) =>
  visitOpened({ event_id: `${id}-open`, mdtrt_id: id, psn_no, begntime, med_type, fixmedins_code, atddr_no: 'DRB0001', adm_dept_codg: 'DEPTB01', diagnoses: [{ diag_code: 'I21.900' }] })
const bLines = (psn_no: string, id: string, lines: { sn: string; at: string; code: string; prd_days?: number }[], fixmedins_code = B) =>
  feeUploaded({
    event_id: `${id}-fee`, mdtrt_id: id, psn_no, fixmedins_code,
    lines: lines.map((l) => ({ feedetl_sn: l.sn, fee_ocur_time: l.at, med_list_codg: l.code, list_type: l.prd_days ? 'drug' as const : 'service' as const, med_chrgitm_type: l.prd_days ? '09' : '05', bilg_dr_codg: 'DRB0001', bilg_dept_codg: 'DEPTB01', cnt: '30', pric: '2.00', ...(l.prd_days ? { prd_days: l.prd_days } : {}) })),
  })
const aOpen = (psn_no: string, id: string, begntime: string, med_type = '11') => visitOpened({ event_id: `${id}-open`, mdtrt_id: id, psn_no, begntime, med_type, fixmedins_code: A, diagnoses: [{ diag_code: 'J18.900' }] })
const aLines = (psn_no: string, id: string, lines: { sn: string; at: string; code: string; prd_days?: number }[]) =>
  feeUploaded({
    event_id: `${id}-fee`, mdtrt_id: id, psn_no, fixmedins_code: A,
    lines: lines.map((l) => ({ feedetl_sn: l.sn, fee_ocur_time: l.at, med_list_codg: l.code, list_type: l.prd_days ? 'drug' as const : 'service' as const, med_chrgitm_type: l.prd_days ? '09' : '05', cnt: '30', pric: '2.00', ...(l.prd_days ? { prd_days: l.prd_days } : {}) })),
  })

interface Answer { findings: { detector: { id: string }; message: { zh: string; en: string }; evidence: Record<string, unknown>; subject: { fixmedins_code: string } }[] }

const SCENARIOS: { name: string; psn: string; history: AnyEvent[]; draft: AnyEvent[]; expect: string[]; also?: string[] }[] = [
  {
    name: 'a death recorded at another hospital (discharge by death)', psn: 'PSN70000001',
    history: [
      bOpen('PSN70000001', 'MDTB-DEATH', t(1, '08:07'), '21'),
      bLines('PSN70000001', 'MDTB-DEATH', [{ sn: 'BLINE-D1', at: t(1, '09:13'), code: 'SVC-A' }]),
      visitClosed({ event_id: 'MDTB-DEATH-close', mdtrt_id: 'MDTB-DEATH', psn_no: 'PSN70000001', endtime: t(2, '10:17'), dscg_way: '5', dscg_maindiag_code: 'I21.900', fixmedins_code: B }),
      settlementCompleted({ event_id: 'MDTB-DEATH-setl', mdtrt_id: 'MDTB-DEATH', psn_no: 'PSN70000001', setl_id: 'SETLB-DEATH', setl_time: t(2, '11:19'), med_type: '21', fixmedins_code: B }),
    ],
    draft: [aOpen('PSN70000001', 'MDTA-1', t(3, '09:00')), aLines('PSN70000001', 'MDTA-1', [{ sn: 'A1', at: t(3, '09:30'), code: 'SVC-A' }])],
    expect: ['identity-misuse', 'phantom-service'],
    also: ['2026-03-02'], // the death date
  },
  {
    name: 'the card used at a distant hospital half an hour earlier, the person inpatient there',
    psn: 'PSN70000002',
    history: [bOpen('PSN70000002', 'MDTB-STAY', t(2, '10:31'), '21'), bLines('PSN70000002', 'MDTB-STAY', [{ sn: 'BLINE-S1', at: t(2, '10:43'), code: 'SVC-A' }])],
    draft: [aOpen('PSN70000002', 'MDTA-2', t(2, '11:00')), aLines('PSN70000002', 'MDTA-2', [{ sn: 'A2', at: t(2, '13:00'), code: 'SVC-A' }])],
    expect: ['identity-misuse', 'phantom-service'],
  },
  {
    name: 'an inpatient stay elsewhere overlapping this one',
    psn: 'PSN70000003',
    history: [bOpen('PSN70000003', 'MDTB-OVL', t(1, '08:07'), '21'), bLines('PSN70000003', 'MDTB-OVL', [{ sn: 'BLINE-O1', at: t(4, '10:11'), code: 'SVC-A' }])],
    draft: [aOpen('PSN70000003', 'MDTA-3', t(2, '09:00'), '21'), aLines('PSN70000003', 'MDTA-3', [{ sn: 'A3', at: t(3, '12:00'), code: 'SVC-A' }])],
    expect: ['phantom-service'],
  },
  {
    name: 'the same drug supplied at another hospital and a pharmacy',
    psn: 'PSN70000004',
    history: [
      bOpen('PSN70000004', 'MDTB-RX', t(1, '09:07'), '11'), bLines('PSN70000004', 'MDTB-RX', [{ sn: 'BLINE-R1', at: t(1, '09:37'), code: DRUG, prd_days: 30 }]),
      bOpen('PSN70000004', 'MDTC-RX', t(2, '09:03'), '41', C), bLines('PSN70000004', 'MDTC-RX', [{ sn: 'CLINE-R1', at: t(2, '09:13'), code: DRUG, prd_days: 30 }], C),
    ],
    draft: [aOpen('PSN70000004', 'MDTA-4', t(2, '10:00')), aLines('PSN70000004', 'MDTA-4', [{ sn: 'A4', at: t(2, '10:30'), code: DRUG, prd_days: 30 }])],
    expect: ['drug-hoarding', 'over-quantity', 'split-prescription'],
  },
  {
    name: 'haemodialysis at another hospital three times this week',
    psn: 'PSN70000005',
    history: [2, 3, 4].flatMap((d) => [bOpen('PSN70000005', `MDTB-HD${d}`, t(d, '08:07')), bLines('PSN70000005', `MDTB-HD${d}`, [{ sn: `BLINE-H${d}`, at: t(d, '08:29'), code: DIAL }])]),
    draft: [aOpen('PSN70000005', 'MDTA-5', t(5, '09:00')), aLines('PSN70000005', 'MDTA-5', [{ sn: 'A5', at: t(5, '09:30'), code: DIAL }])],
    expect: ['dialysis-frequency'],
  },
]

describe('pre-check disclosure: never another institution\'s identifiers, names, times, diagnoses or lines', () => {
  for (const s of SCENARIOS) {
    it(s.name, async () => {
      await ingest(s.history)
      const res = await precheck(s.draft)
      expect(res.statusCode, res.body).toBe(200)
      const body = res.json() as Answer
      // The answer still says what A needs to act on: each detector that reads other institutions' history spoke.
      expect([...new Set(body.findings.map((f) => f.detector.id))].sort()).toEqual(expect.arrayContaining(s.expect))
      for (const f of body.findings) expect(f.subject.fixmedins_code).toBe(A)
      const text = res.body
      for (const token of foreignTokens(s.history, s.also)) expect(text, `the answer quotes ${token}`).not.toContain(token)
    })
  }

  it('tells A what it needs: the person is recorded as deceased, an overlapping stay elsewhere, supply above the limit', async () => {
    const say = async (draft: AnyEvent[]) => ((await precheck(draft)).json() as Answer).findings.map((f) => f.message.en).join(' | ')
    expect(await say(SCENARIOS[0]!.draft)).toMatch(/recorded as deceased/)
    expect(await say(SCENARIOS[2]!.draft)).toMatch(/overlapping inpatient stay at another institution/)
    expect(await say(SCENARIOS[3]!.draft)).toMatch(/90 days supplied within 30 days \(all institutions\), above 45/)
  })
})

describe('pre-check input and limits', () => {
  it('refuses a draft reversal without psn_no with its reason (regression: answered 200 with psn_no "")', async () => {
    const rev = feeReversed({ event_id: 'rev-no-psn', mdtrt_id: 'MDTA-9', feedetl_sns: ['A9'], time: t(3, '10:00'), fixmedins_code: A })
    const old = { ...rev, payload: { mdtrt_id: 'MDTA-9', feedetl_sns: ['A9'] } }
    const res = await precheck([old])
    expect(res.statusCode).toBe(400)
    expect(res.json().message).toMatch(/^events\[0\]: schema\.missing@payload\.psn_no/)
  })

  it(`takes ${PRECHECK_MAX_EVENTS} ordinary events within the ${PRECHECK_BODY_LIMIT / 1024} KiB body and refuses one more (regression: 200 events could not fit the body)`, async () => {
    const psn_no = 'PSN70000009'
    const events = [aOpen(psn_no, 'MDTA-LIM', t(6, '09:00')), ...Array.from({ length: PRECHECK_MAX_EVENTS }, (_, i) => aLines(psn_no, `MDTA-LIM`, [{ sn: `L${i}`, at: t(6, '10:00'), code: 'SVC-A' }]))]
      .map((e, i) => ({ ...e, event_id: `lim-${i}` }))
    const fits = events.slice(0, PRECHECK_MAX_EVENTS)
    expect(Buffer.byteLength(JSON.stringify({ events: fits }))).toBeLessThan(PRECHECK_BODY_LIMIT)
    expect((await precheck(fits)).statusCode).toBe(200)
    const over = await precheck(events)
    expect(over.statusCode).toBe(400)
  })

  it('answers a body of identical drug lines with a bounded answer (regression: 64 KiB in, 8.6 MB out)', async () => {
    const psn_no = 'PSN70000010'
    const lines = Array.from({ length: 140 }, (_, i) => ({ sn: `${i}`, at: t(7, '10:00'), code: DRUG, prd_days: 60 }))
    const draft = [aOpen(psn_no, 'MDTA-AMP', t(7, '09:00')), aLines(psn_no, 'MDTA-AMP', lines)]
    const size = Buffer.byteLength(JSON.stringify({ events: draft }))
    expect(size).toBeLessThan(PRECHECK_BODY_LIMIT)
    const res = await precheck(draft)
    expect(res.statusCode).toBe(200)
    expect(res.body.length).toBeLessThan(size)
  })
})
