import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import detector from './index.ts'
import { testApp, removeDir, type TestApp } from '../../test/helpers/app.ts'
import { feeReversed, institution, item, makeKb, type LineArgs } from '../../test/helpers/detect.ts'
import { cn, runDetector, storeEvents, visitEvents } from '../../test/audit/helpers.ts'
import type { AnyEvent } from '../../schemas/index.ts'

const CLINIC = 'H37100200021'
const SOLO = 'H37100200022'
const kb = makeKb({
  institutions: [institution(CLINIC, { kind: 'clinic', level: 1, type: '基层医疗机构' }), institution(SOLO, { kind: 'clinic', level: 0, type: '诊所' })],
  catalog: [item('HD', { name: '血液透析', dialysis: true }), item('CONSULT', { name: '普通门诊诊察费', med_chrgitm_type: '02' }), item('MASSAGE', { name: '推拿', med_chrgitm_type: '05' })],
})

let app: TestApp
beforeAll(async () => {
  app = await testApp({ kb })
})
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

type Lines = (t: string) => (Omit<LineArgs, 'fee_ocur_time'> & { fee_ocur_time?: string })[]

/** Registration and consultation (left out of the item set) plus acupuncture and three drugs. */
const ringLines: Lines = (t) => [
  { med_list_codg: 'REG', med_chrgitm_type: '13', pric: '1.00', fee_ocur_time: t },
  { med_list_codg: 'CONSULT', med_chrgitm_type: '02', pric: '15.00', fee_ocur_time: t },
  { med_list_codg: 'ACUP', med_chrgitm_type: '05', pric: '25.00', fee_ocur_time: t },
  { med_list_codg: 'GINKGO', list_type: 'drug', med_chrgitm_type: '11', pric: '40.00', fee_ocur_time: t },
  { med_list_codg: 'MECOB', list_type: 'drug', med_chrgitm_type: '09', pric: '30.00', fee_ocur_time: t },
  { med_list_codg: 'DANSHEN', list_type: 'drug', med_chrgitm_type: '11', pric: '35.00', fee_ocur_time: t },
]
const otherLines: Lines = (t) => [{ med_list_codg: 'CBC', med_chrgitm_type: '04', pric: '20.00', fee_ocur_time: t }]

/** `n` visits at `code` starting at `first` ('YYYY-MM-DD hh:mm' China time), `gapMin` minutes apart, by `doctor(k)`. */
function ring(code: string, first: string, n: number, gapMin: number, doctor: (k: number) => string, lines = ringLines, med_type = '11') {
  const t0 = Date.parse(cn(first))
  return Array.from({ length: n }, (_, k) => {
    const t = new Date(t0 + k * gapMin * 60_000 + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ')
    return visitEvents({ fixmedins_code: code, begntime: t, atddr_no: doctor(k), diag: 'M54.500', med_type, lines: lines(cn(t)) })
  })
}
/** The clinic's ordinary morning: another doctor, other items. */
const morning = (date: string) => ring(CLINIC, `${date} 09:00`, 3, 30, () => 'DRY', otherLines)
const evs = (xs: { events: AnyEvent[] }[]) => xs.flatMap((x) => x.events)

describe('collusion', () => {
  it('flags persons billed the same items at night by one doctor, with every visit and what the fund paid', async () => {
    const night = ring(CLINIC, '2026-01-10 21:30', 10, 12, () => 'DRX')
    await storeEvents(app.store, evs([...night, ...morning('2026-01-10')]))
    const f = await runDetector(detector, app.store, kb, '2026-01-01', '2026-01-31')
    expect(f).toHaveLength(1)
    const x = f[0]!
    expect(x.subject).toEqual({ fixmedins_code: CLINIC, doctor: 'DRX' })
    expect(x.key).toMatch(new RegExp(`^${CLINIC}/2026-01-10T21:30/[0-9a-f]{16}$`))
    expect([...x.refs.mdtrt_ids!].sort()).toEqual(night.map((v) => v.mdtrt_id).sort())
    expect(x.evidence).toMatchObject({
      persons: 10, visits: 10, items: ['ACUP', 'DANSHEN', 'GINKGO', 'MECOB'], diagnoses: ['M54.500'], odd_hour_visits: 10, doctor_share: 1,
      institution_doctors_that_day: 2, first_visit: '2026-01-10T21:30:00+08:00', last_visit: '2026-01-10T23:18:00+08:00', span_hours: 1.8,
      same_set_other_days: 0, signals: { odd_hours: true, one_doctor: true, burst: true },
    })
    // Each visit: 146 yuan, 60 % paid by the fund.
    expect(x.amount_fen / 100).toBeCloseTo(10 * 146 * 0.6, 2)
    expect(x.event_time).toBe('2026-01-10T23:18:00+08:00')
  })

  it('gives a cluster the same key whatever window finds it', async () => {
    const a = await runDetector(detector, app.store, kb, '2026-01-01', '2026-01-31')
    const b = await runDetector(detector, app.store, kb, '2026-01-10', '2026-01-10')
    expect(b.map((x) => x.key)).toEqual(a.map((x) => x.key))
  })

  it('does not flag a routine: the same set every day, in the daytime, across doctors', async () => {
    const routine = Array.from({ length: 7 }, (_, d) => ring(CLINIC, `2026-02-${String(2 + d).padStart(2, '0')} 08:00`, 10, 15, (k) => `DR${k % 4}`)).flat()
    await storeEvents(app.store, evs(routine))
    expect(await runDetector(detector, app.store, kb, '2026-02-01', '2026-02-28')).toEqual([])
    // Every day is a full window of 10: only the signals keep them out.
    const any = await runDetector(detector, app.store, kb, '2026-02-01', '2026-02-28', { min_signals: 1, require_any: [], burst_factor: 1 })
    expect(any).toHaveLength(7)
  })

  it('finds a session across midnight in one window, and nothing when the window is shorter than the crowd', async () => {
    await storeEvents(app.store, evs([...ring(CLINIC, '2026-03-10 22:30', 9, 20, () => 'DRX'), ...morning('2026-03-10')]))
    const f = await runDetector(detector, app.store, kb, '2026-03-01', '2026-03-31')
    expect(f.map((x) => [x.evidence.persons, x.evidence.first_visit, x.evidence.last_visit])).toEqual([[9, '2026-03-10T22:30:00+08:00', '2026-03-11T01:10:00+08:00']])
    // In one hour at most 4 of them start.
    expect(await runDetector(detector, app.store, kb, '2026-03-01', '2026-03-31', { window_hours: 1 })).toEqual([])
  })

  it('needs min_persons, counting a visit whose extra line was reversed as billing the same set', async () => {
    await storeEvents(app.store, evs([...ring(CLINIC, '2026-04-10 21:00', 7, 10, () => 'DRX'), ...morning('2026-04-10')]))
    expect(await runDetector(detector, app.store, kb, '2026-04-01', '2026-04-30')).toEqual([])
    const eighth = visitEvents({
      fixmedins_code: CLINIC, begntime: '2026-04-10 22:30', atddr_no: 'DRX', diag: 'M54.500',
      lines: [...ringLines(cn('2026-04-10 22:31')), { feedetl_sn: 'EXTRA1', med_list_codg: 'CT', med_chrgitm_type: '03', pric: '200.00', fee_ocur_time: cn('2026-04-10 22:31') }],
    })
    await storeEvents(app.store, eighth.events)
    expect(await runDetector(detector, app.store, kb, '2026-04-01', '2026-04-30')).toEqual([])
    await storeEvents(app.store, [feeReversed({ fixmedins_code: CLINIC, mdtrt_id: eighth.mdtrt_id, feedetl_sns: ['EXTRA1'], time: cn('2026-04-10 22:40') })])
    const f = await runDetector(detector, app.store, kb, '2026-04-01', '2026-04-30')
    expect(f.map((x) => x.evidence.persons)).toEqual([8])
  })

  it('does not count "one doctor" where one doctor worked that day', async () => {
    await storeEvents(app.store, evs(ring(SOLO, '2026-05-10 21:00', 9, 10, () => 'DRS')))
    const f = await runDetector(detector, app.store, kb, '2026-05-01', '2026-05-31')
    expect(f).toHaveLength(1)
    expect(f[0]!.subject).toEqual({ fixmedins_code: SOLO })
    expect(f[0]!.evidence.signals).toEqual({ odd_hours: true, one_doctor: false, burst: true })
    expect(await runDetector(detector, app.store, kb, '2026-05-01', '2026-05-31', { min_signals: 3 })).toEqual([])
  })

  it('does not report a daytime group seen by several doctors (a scheduled service) unless told to', async () => {
    await storeEvents(app.store, evs(ring(CLINIC, '2026-06-10 09:00', 10, 9, (k) => `DR${k % 3}`)))
    expect(await runDetector(detector, app.store, kb, '2026-06-01', '2026-06-30')).toEqual([])
    const f = await runDetector(detector, app.store, kb, '2026-06-01', '2026-06-30', { min_signals: 1, require_any: [] })
    expect(f.map((x) => x.evidence.signals)).toEqual([{ odd_hours: false, one_doctor: false, burst: true }])
  })

  it('never counts an emergency visit as an odd hour, and leaves dialysis shifts out', async () => {
    const erLines: Lines = (t) => [
      { med_list_codg: 'IVDRIP', med_chrgitm_type: '05', pric: '12.00', fee_ocur_time: t },
      { med_list_codg: 'SALINE', list_type: 'drug', med_chrgitm_type: '09', pric: '5.00', fee_ocur_time: t },
      { med_list_codg: 'METOCLOP', list_type: 'drug', med_chrgitm_type: '09', pric: '3.00', fee_ocur_time: t },
    ]
    await storeEvents(app.store, evs([...ring(CLINIC, '2026-07-10 23:00', 8, 10, () => 'DRE', erLines, '13'), ...morning('2026-07-10')]))
    const er = await runDetector(detector, app.store, kb, '2026-07-01', '2026-07-31')
    expect(er.map((x) => [x.evidence.odd_hour_visits, x.evidence.signals])).toEqual([[0, { odd_hours: false, one_doctor: true, burst: true }]])

    const dialysis: Lines = (t) => [
      { med_list_codg: 'HD', med_chrgitm_type: '05', pric: '420.00', fee_ocur_time: t },
      { med_list_codg: 'HEPARIN', list_type: 'drug', med_chrgitm_type: '09', pric: '12.00', fee_ocur_time: t },
      { med_list_codg: 'DIALYZER', list_type: 'consumable', med_chrgitm_type: '08', pric: '150.00', fee_ocur_time: t },
    ]
    await storeEvents(app.store, evs([...ring(CLINIC, '2026-08-10 07:00', 10, 2, () => 'DRN', dialysis, '14'), ...morning('2026-08-10')]))
    expect(await runDetector(detector, app.store, kb, '2026-08-01', '2026-08-31')).toEqual([])
    expect(await runDetector(detector, app.store, kb, '2026-08-01', '2026-08-31', { skip_dialysis: false })).toHaveLength(1)
  })

  it('judges a line\'s charge category by the catalog first: a consultation coded 05, a treatment coded 02', async () => {
    // Half the visits code the consultation as 05 治疗费 and the massage as 02 诊察费: the catalog says 02 and 05, the set is the same.
    const miscoded: (k: number) => Lines = (k) => (t) => [
      ...ringLines(t).map((l) => (l.med_list_codg === 'CONSULT' && k % 2 === 0 ? { ...l, med_chrgitm_type: '05' } : l)),
      { med_list_codg: 'MASSAGE', med_chrgitm_type: k % 2 === 0 ? '02' : '05', pric: '30.00', fee_ocur_time: t },
    ]
    const t0 = Date.parse(cn('2026-09-10 21:30'))
    const night = Array.from({ length: 10 }, (_, k) => {
      const t = new Date(t0 + k * 12 * 60_000 + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ')
      return visitEvents({ fixmedins_code: CLINIC, begntime: t, atddr_no: 'DRX', diag: 'M54.500', lines: miscoded(k)(cn(t)) })
    })
    await storeEvents(app.store, evs([...night, ...morning('2026-09-10')]))
    const f = await runDetector(detector, app.store, kb, '2026-09-01', '2026-09-30')
    expect(f.map((x) => [x.evidence.persons, x.evidence.items])).toEqual([[10, ['ACUP', 'DANSHEN', 'GINKGO', 'MASSAGE', 'MECOB']]])
  })
})
