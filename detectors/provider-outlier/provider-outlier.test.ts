import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import detector from './index.ts'
import { testApp, removeDir, type TestApp } from '../../test/helpers/app.ts'
import { feeReversed, institution, makeKb } from '../../test/helpers/detect.ts'
import { runDetector, settlementReversed, storeEvents, visitEvents, type VisitSpec } from '../../test/audit/helpers.ts'
import type { AnyEvent } from '../../schemas/index.ts'

// Six level-1 community clinics (one type), three level-1 TCM clinics (another
// type, too few to be their own peer group) and six level-2 hospitals. Each
// test writes into its own month, so tests never see each other's visits.
const CLINICS = ['H37070500011', 'H37070500012', 'H37070500013', 'H37070500014', 'H37070500015', 'H37070500016']
const TCM = ['H37070500021', 'H37070500022', 'H37070500023']
const HOSPITALS = ['H37070500031', 'H37070500032', 'H37070500033', 'H37070500034', 'H37070500035', 'H37070500036']
const kb = makeKb({
  institutions: [
    ...CLINICS.map((c) => institution(c, { kind: 'clinic', level: 1, type: '基层医疗机构' })),
    ...TCM.map((c) => institution(c, { kind: 'clinic', level: 1, type: '中医诊所' })),
    ...HOSPITALS.map((c) => institution(c, { kind: 'hospital', level: 2, type: '综合医院' })),
  ],
  doctors: CLINICS.flatMap((c, i) => [
    { dr_code: `D${i}A`, fixmedins_code: c, name: '甲', title: 'attending' as const, dept_codg: 'A03' },
    { dr_code: `D${i}B`, fixmedins_code: c, name: '乙', title: 'attending' as const, dept_codg: 'A03' },
  ]),
})

let app: TestApp
beforeAll(async () => {
  app = await testApp({ kb })
})
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

/** `n` outpatient visits at `code` in `month` (YYYY-MM), each one line of `price` yuan. */
function visits(code: string, month: string, n: number, price: number, over: Partial<VisitSpec> = {}, listType: 'service' | 'drug' = 'service') {
  return Array.from({ length: n }, (_, k) => visitEvents({
    fixmedins_code: code, begntime: `${month}-${String(2 + k).padStart(2, '0')} 09:00`,
    lines: [{ med_list_codg: listType === 'drug' ? 'DRUG1' : 'SVC1', list_type: listType, med_chrgitm_type: listType === 'drug' ? '09' : '05', pric: price.toFixed(2) }],
    ...over,
  }))
}
const evs = (xs: { events: AnyEvent[] }[]) => xs.flatMap((x) => x.events)

const P = { min_visits: 5, min_stays: 3, doctors: false }

describe('provider-outlier: institutions against their level and type', () => {
  it('flags the clinic whose cost per visit is far above its peers, with the peer statistics and the amount', async () => {
    const normal = CLINICS.slice(0, 5).flatMap((c, i) => visits(c, '2026-01', 8, 50 + 2 * i))
    const outlier = visits(CLINICS[5]!, '2026-01', 8, 200)
    const all = evs([...normal, ...outlier])
    // Stored twice: a replay leaves unmerged duplicate rows, and FINAL must keep them from counting twice.
    await storeEvents(app.store, all)
    await storeEvents(app.store, all)
    const f = await runDetector(detector, app.store, kb, '2026-01-01', '2026-01-31', P)
    expect(f).toHaveLength(1)
    const x = f[0]!
    expect(x.subject).toEqual({ fixmedins_code: CLINICS[5] })
    expect(x.key).toBe(`${CLINICS[5]}/otp_cost_per_visit`)
    // Values 50 52 54 56 58 200: median 55, MAD 3 → scale max(1.4826 × 3, 10 % of 55) = 5.5.
    expect(x.evidence).toMatchObject({
      metric: 'otp_cost_per_visit', value: 200, peer_median: 55, mad: 3, scale: 5.5, robust_z: 26.36, peers: 5,
      peer_group: 'L1/基层医疗机构', peer_basis: 'level+type', volume: 8, fund_ratio: 0.6, window: { from: '2026-01-01', to: '2026-01-31', days: 31 },
      typical: { value: 200, peer_median: 55, robust_z: 26.36 },
    })
    // (200 − 55) × 8 visits × 0.6 insurance share.
    expect(x.amount_fen / 100).toBeCloseTo(696, 2)
    expect([...x.refs.mdtrt_ids!].sort()).toEqual(outlier.map((v) => v.mdtrt_id).sort())
    expect([...x.refs.setl_ids!].sort()).toEqual(outlier.map((v) => v.setl_id).sort())
    expect(x.message.zh).toContain('门诊次均费用')
  })

  it('gives the same keys when the same window is audited again', async () => {
    const a = await runDetector(detector, app.store, kb, '2026-01-01', '2026-01-31', P)
    const b = await runDetector(detector, app.store, kb, '2026-01-01', '2026-01-31', P)
    expect(a.map((x) => x.key)).toEqual(b.map((x) => x.key))
    expect(a.map((x) => x.amount_fen / 100)).toEqual(b.map((x) => x.amount_fen / 100))
  })

  it('does not flag the cheap direction, a clinic below the volume minimum, or a visit settled at the window end', async () => {
    const normal = CLINICS.slice(0, 5).flatMap((c, i) => visits(c, '2026-02', 8, 50 + 2 * i))
    const cheap = visits(CLINICS[5]!, '2026-02', 8, 5)
    const tiny = visits(TCM[0]!, '2026-02', 3, 900)
    // Settled at 2026-02-28 00:00: the window [2026-02-01, 2026-02-28) ends just before it.
    const late = visits(CLINICS[0]!, '2026-02', 1, 5000, { begntime: '2026-02-27 22:00', settle: { setl_time: '2026-02-28 00:00' } })
    await storeEvents(app.store, evs([...normal, ...cheap, ...tiny, ...late]))
    expect(await runDetector(detector, app.store, kb, '2026-02-01', '2026-02-27', P)).toEqual([])
    // A window one day longer holds that settlement: 8 visits at 50 and one at 5000 lift CLINICS[0]'s mean far above its peers'.
    const longer = await runDetector(detector, app.store, kb, '2026-02-01', '2026-02-28', { ...P, typical_check: false })
    expect(longer.map((x) => [x.subject.fixmedins_code, x.evidence.volume])).toEqual([[CLINICS[0], 9]])
    // But its typical visit is its peers': one extreme visit is a case for the stream detectors, not a provider outlier.
    expect(await runDetector(detector, app.store, kb, '2026-02-01', '2026-02-28', P)).toEqual([])
  })

  it('leaves reversed lines and reversed settlements out', async () => {
    const normal = CLINICS.slice(0, 5).flatMap((c, i) => visits(c, '2026-03', 8, 50 + 2 * i))
    // The would-be outlier: each visit's 200-yuan line is withdrawn and a 56-yuan line stands.
    const fixed = CLINICS[5]!
    const withdrawn = Array.from({ length: 8 }, (_, k) => {
      const v = visitEvents({
        fixmedins_code: fixed, begntime: `2026-03-${String(2 + k).padStart(2, '0')} 09:00`,
        lines: [{ feedetl_sn: `R${k}a`, med_list_codg: 'SVC1', pric: '200.00' }, { feedetl_sn: `R${k}b`, med_list_codg: 'SVC1', pric: '56.00' }],
      })
      return [...v.events, feeReversed({ fixmedins_code: fixed, mdtrt_id: v.mdtrt_id, feedetl_sns: [`R${k}a`], time: `2026-03-${String(2 + k).padStart(2, '0')}T09:30:00+08:00` })]
    }).flat()
    // Another clinic's expensive visits had their settlements reversed: they are not settled visits.
    const unsettled = visits(TCM[1]!, '2026-03', 6, 900)
    const reversals = unsettled.map((v) => settlementReversed({ fixmedins_code: TCM[1]!, mdtrt_id: v.mdtrt_id, setl_id: v.setl_id!, time: '2026-03-20T10:00:00+08:00' }))
    await storeEvents(app.store, [...evs(normal), ...withdrawn, ...evs(unsettled), ...reversals])
    expect(await runDetector(detector, app.store, kb, '2026-03-01', '2026-03-31', P)).toEqual([])
  })
})

describe('provider-outlier: peer groups', () => {
  it('judges a type too small for its own group only when told to fall back to the same level and kind', async () => {
    const normal = CLINICS.flatMap((c, i) => visits(c, '2026-04', 6, 50 + 2 * i))
    const tcm = [...visits(TCM[0]!, '2026-04', 6, 52), ...visits(TCM[1]!, '2026-04', 6, 54), ...visits(TCM[2]!, '2026-04', 6, 300)]
    await storeEvents(app.store, evs([...normal, ...tcm]))
    expect(await runDetector(detector, app.store, kb, '2026-04-01', '2026-04-30', P)).toEqual([])
    const f = await runDetector(detector, app.store, kb, '2026-04-01', '2026-04-30', { ...P, peer_fallback: true })
    expect(f.map((x) => x.subject.fixmedins_code)).toEqual([TCM[2]])
    expect(f[0]!.evidence).toMatchObject({ peer_group: 'L1/clinic', peer_basis: 'level+kind', peers: 8 })
  })
})

describe('provider-outlier: shares, stays and doctors', () => {
  it('flags a drug share far above the peers\' (and the cost it brings)', async () => {
    // Every visit costs 60; the outlier bills 50 of it as drugs, the others 10–14.
    const mixed = (code: string, drug: number) => Array.from({ length: 6 }, (_, k) => visitEvents({
      fixmedins_code: code, begntime: `2026-05-${String(2 + k).padStart(2, '0')} 09:00`,
      lines: [
        { med_list_codg: 'DRUG1', list_type: 'drug', med_chrgitm_type: '09', pric: drug.toFixed(2) },
        { med_list_codg: 'SVC1', pric: (60 - drug).toFixed(2) },
      ],
    }))
    await storeEvents(app.store, evs([...CLINICS.slice(0, 5).flatMap((c, i) => mixed(c, 10 + i)), ...mixed(CLINICS[5]!, 50)]))
    const f = await runDetector(detector, app.store, kb, '2026-05-01', '2026-05-31', P)
    expect(f.map((x) => x.evidence.metric)).toEqual(['otp_drug_share'])
    // Shares 10/60 … 14/60 and 50/60: median (12/60 + 13/60) / 2; (50/60 − 12.5/60) × 360 yuan × 0.6.
    expect(f[0]!.evidence).toMatchObject({ value: 0.8333, peer_median: 0.2083 })
    expect(f[0]!.amount_fen / 100).toBeCloseTo((50 / 60 - 12.5 / 60) * 360 * 0.6, 2)
  })

  it('flags a hospital whose stays are far longer than its peers\', counting China calendar days', async () => {
    const stays = (code: string, los: number) => Array.from({ length: 4 }, (_, k) => {
      const start = 2 + k * 6
      const end = new Date(Date.UTC(2026, 5, start + los))
      return visitEvents({
        fixmedins_code: code, med_type: '21', begntime: `2026-06-${String(start).padStart(2, '0')} 23:30`,
        endtime: `${end.toISOString().slice(0, 10)} 00:30`,
        lines: [{ med_list_codg: 'BED', pric: (100 * los).toFixed(2) }],
      })
    })
    await storeEvents(app.store, evs([...HOSPITALS.slice(0, 5).flatMap((c, i) => stays(c, 4 + (i % 3))), ...stays(HOSPITALS[5]!, 20)]))
    const f = await runDetector(detector, app.store, kb, '2026-06-01', '2026-07-31', { ...P, metrics: ['ipt_avg_los'] })
    expect(f).toHaveLength(1)
    // 23:30 admission, 00:30 discharge los days later: los calendar days, not los − 1.
    expect(f[0]!.evidence).toMatchObject({ metric: 'ipt_avg_los', scenario: 'ipt', value: 20, peer_median: 5, volume: 4 })
    // (20 − 5) days × 4 stays × 100 yuan a bed day × 0.6.
    expect(f[0]!.amount_fen / 100).toBeCloseTo(3600, 2)
    expect(f[0]!.refs.mdtrt_ids).toHaveLength(4)
  })

  it('flags one doctor far above the same department\'s doctors at peer institutions', async () => {
    const by = (code: string, dr: string, price: number) => visits(code, '2026-08', 6, price, { atddr_no: dr })
    const evts = CLINICS.flatMap((c, i) => [...by(c, `D${i}A`, 50 + i), ...by(c, `D${i}B`, 52 + i)])
    const high = by(CLINICS[0]!, 'D0A', 400) // a second batch of D0A's visits: 12 in all, half at 400
    await storeEvents(app.store, evs([...evts, ...high]))
    const f = await runDetector(detector, app.store, kb, '2026-08-01', '2026-08-31', { min_visits: 5, doctor_min_visits: 5, metrics: [] })
    expect(f).toHaveLength(1)
    expect(f[0]!.subject).toEqual({ fixmedins_code: CLINICS[0], doctor: 'D0A' })
    expect(f[0]!.key).toBe(`${CLINICS[0]}/D0A/otp_cost_per_visit`)
    expect(f[0]!.evidence).toMatchObject({ doctor: 'D0A', dept: 'A03', peer_group: 'L1/基层医疗机构/A03', z_threshold: 5, volume: 12 })
    expect(f[0]!.refs.mdtrt_ids).toHaveLength(12)
    // The doctor's costliest visits come first.
    expect(f[0]!.refs.mdtrt_ids!.slice(0, 6).sort()).toEqual(high.map((v) => v.mdtrt_id).sort())
  })
})
