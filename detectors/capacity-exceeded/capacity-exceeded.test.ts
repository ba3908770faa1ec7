import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import detector from './index.ts'
import { testApp, removeDir, type TestApp } from '../../test/helpers/app.ts'
import { feeReversed, institution, item, makeKb } from '../../test/helpers/detect.ts'
import { cn, runDetector, storeEvents, visitEvents } from '../../test/audit/helpers.ts'
import type { AnyEvent } from '../../schemas/index.ts'

const ONE = 'H37078200021' // one therapist
const NONE = 'H37078200022' // none on record
const FIVE = 'H37078200023' // five therapists
const kb = makeKb({
  institutions: [
    institution(ONE, { kind: 'clinic', level: 1, type: '基层医疗机构', therapists: 1 }),
    institution(NONE, { kind: 'clinic', level: 1, type: '基层医疗机构', therapists: 0 }),
    institution(FIVE, { kind: 'hospital', level: 2, type: '康复医院', therapists: 5 }),
  ],
  catalog: [
    item('PT', { name: '运动疗法', therapist_minutes: 40 }),
    item('TUINA', { name: '推拿治疗', therapist_minutes: 20 }),
    item('ECGMON', { name: '心电监护', time_unit: 'hour' }),
  ],
})

let app: TestApp
beforeAll(async () => {
  app = await testApp({ kb })
})
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

/** `n` rehab visits at `code` from `first` ('YYYY-MM-DD hh:mm'), `gapMin` apart, each one unit of PT (60 yuan, 40 minutes). */
function rehab(code: string, first: string, n: number, gapMin = 30, staff = 'DR0001') {
  const t0 = Date.parse(cn(first))
  return Array.from({ length: n }, (_, k) => {
    const t = new Date(t0 + k * gapMin * 60_000 + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ')
    return visitEvents({ fixmedins_code: code, begntime: t, atddr_no: staff, lines: [{ med_list_codg: 'PT', pric: '60.00', fee_ocur_time: cn(t), bilg_dept_codg: 'A21' }] })
  })
}
const evs = (xs: { events: AnyEvent[] }[]) => xs.flatMap((x) => x.events)

describe('capacity-exceeded', () => {
  it('flags a day billing more therapist minutes than the therapists have, and not a day at exactly the capacity', async () => {
    const over = rehab(ONE, '2026-01-10 08:00', 13, 30)
    const full = rehab(ONE, '2026-01-11 08:00', 12, 30)
    // Hourly monitoring is time-based but not therapist work.
    const monitor = visitEvents({ fixmedins_code: ONE, begntime: '2026-01-10 09:00', lines: [{ med_list_codg: 'ECGMON', cnt: '10', pric: '6.00', hours: '10' }] })
    await storeEvents(app.store, evs([...over, ...full, monitor]))
    const f = await runDetector(detector, app.store, kb, '2026-01-01', '2026-01-31')
    expect(f).toHaveLength(1)
    const x = f[0]!
    expect(x.subject).toEqual({ fixmedins_code: ONE })
    expect(x.key).toBe(`${ONE}/2026-01-10`)
    expect(x.event_time).toBe('2026-01-10T00:00:00+08:00')
    expect(x.evidence).toMatchObject({
      date: '2026-01-10', billed_minutes: 520, capacity_minutes: 480, therapists: 1, therapy_amount: 780, lines: 13, visits: 13,
      by_item: [{ med_list_codg: 'PT', cnt: 13, minutes: 520, name: '运动疗法', minutes_per_unit: 40 }], by_dept: [{ dept: 'A21', minutes: 520 }],
    })
    // 780 yuan × (1 − 480 / 520) × 0.6 insurance share.
    expect(x.amount_fen / 100).toBeCloseTo(780 * (40 / 520) * 0.6, 2)
    expect([...x.refs.mdtrt_ids!].sort()).toEqual(over.map((v) => v.mdtrt_id).sort())
    expect(x.refs.feedetl_sns).toHaveLength(13)
    expect(await runDetector(detector, app.store, kb, '2026-01-01', '2026-01-31', { tolerance_ratio: 0.1 })).toEqual([])
  })

  it('leaves reversed lines out', async () => {
    const day = rehab(ONE, '2026-02-10 08:00', 13, 30)
    await storeEvents(app.store, evs(day))
    expect(await runDetector(detector, app.store, kb, '2026-02-01', '2026-02-28')).toHaveLength(1)
    const v = day[0]!
    await storeEvents(app.store, [feeReversed({ fixmedins_code: ONE, mdtrt_id: v.mdtrt_id, feedetl_sns: v.feedetl_sns, time: cn('2026-02-10 12:00') })])
    expect(await runDetector(detector, app.store, kb, '2026-02-01', '2026-02-28')).toEqual([])
  })

  it('counts China days: an evening and the small hours after it are two days', async () => {
    // 22:00–23:45 on the 10th and 00:00–01:45 on the 11th, China time: one UTC day, two China days of 320 minutes.
    await storeEvents(app.store, evs([...rehab(ONE, '2026-03-10 22:00', 8, 15), ...rehab(ONE, '2026-03-11 00:00', 8, 15)]))
    expect(await runDetector(detector, app.store, kb, '2026-03-01', '2026-03-31')).toEqual([])
  })

  it('skips an institution with no therapists on record unless told to report it', async () => {
    await storeEvents(app.store, evs(rehab(NONE, '2026-04-10 09:00', 3)))
    expect(await runDetector(detector, app.store, kb, '2026-04-01', '2026-04-30')).toEqual([])
    const f = await runDetector(detector, app.store, kb, '2026-04-01', '2026-04-30', { skip_zero_therapists: false })
    expect(f.map((x) => [x.subject.fixmedins_code, x.evidence.capacity_minutes, x.evidence.billed_minutes])).toEqual([[NONE, 0, 120]])
    // Nothing could have been delivered: the whole therapy amount is at risk.
    expect(f[0]!.amount_fen / 100).toBeCloseTo(180 * 0.6, 2)
  })

  it('holds one staff code to one therapist\'s day when per_staff is on', async () => {
    await storeEvents(app.store, evs([...rehab(FIVE, '2026-05-10 08:00', 13, 30, 'TH1'), ...rehab(FIVE, '2026-05-10 08:15', 10, 30, 'TH2')]))
    expect(await runDetector(detector, app.store, kb, '2026-05-01', '2026-05-31')).toEqual([])
    const f = await runDetector(detector, app.store, kb, '2026-05-01', '2026-05-31', { per_staff: true })
    expect(f.map((x) => [x.key, x.subject.doctor, x.evidence.billed_minutes, x.evidence.capacity_minutes])).toEqual([[`${FIVE}/2026-05-10/TH1`, 'TH1', 520, 480]])
    expect(f[0]!.refs.mdtrt_ids).toHaveLength(13)
  })
})
