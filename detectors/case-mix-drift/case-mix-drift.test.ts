import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import detector, { baseWeights } from './index.ts'
import { testApp, removeDir, type TestApp } from '../../test/helpers/app.ts'
import { institution, makeKb } from '../../test/helpers/detect.ts'
import { runDetector, settlementReversed, storeEvents, visitEvents } from '../../test/audit/helpers.ts'
import type { AnyEvent } from '../../schemas/index.ts'

// Four level-3 general hospitals; every test writes its baseline and window
// into months of its own and audits with a one-month baseline.
const H = ['H53010200011', 'H53010200012', 'H53010200013', 'H53010200014']
const kb = makeKb({
  institutions: H.map((c) => institution(c, { level: 3, type: '综合医院' })),
  groups: [
    { type: 'DRG', code: 'ES31', name: '呼吸系统感染，伴严重并发症', weight: 1.42, avg_los_days: 10, cc: 'MCC' },
    { type: 'DRG', code: 'ES33', name: '呼吸系统感染，伴一般并发症', weight: 1.02, avg_los_days: 8, cc: 'CC' },
    { type: 'DRG', code: 'ES35', name: '呼吸系统感染，不伴并发症', weight: 0.78, avg_los_days: 7, cc: 'none' },
    { type: 'DRG', code: 'FM19', name: '经皮冠状动脉支架置入', weight: 2.65, avg_los_days: 6 },
  ],
})
const W: Record<string, string> = { ES31: '1.42', ES33: '1.02', ES35: '0.78', FM19: '2.65' }

let app: TestApp
beforeAll(async () => {
  app = await testApp({ kb })
})
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

interface Case { events: AnyEvent[]; mdtrt_id: string; setl_id?: string; group: string; month: string }

/** Stays at `code` settled in `month` (YYYY-MM), `mix` = how many of each group; each costs 1000, the fund pays 600. */
function cases(code: string, month: string, mix: Record<string, number>): Case[] {
  const out: Case[] = []
  let day = 1
  for (const [group, n] of Object.entries(mix)) {
    for (let k = 0; k < n; k++) {
      const d = String(1 + (day++ % 27)).padStart(2, '0')
      const v = visitEvents({
        fixmedins_code: code, med_type: '21', begntime: `${month}-${d} 09:00`, endtime: `${month}-${d} 18:00`,
        lines: [{ med_list_codg: 'SVC1', pric: '1000.00' }],
        settle: { setl_time: `${month}-${d} 19:00`, pay_grp: { type: 'DRG', code: group, weight: W[group]! } },
      })
      out.push({ ...v, group, month })
    }
  }
  return out
}
const evs = (xs: { events: AnyEvent[] }[]) => xs.flatMap((x) => x.events)
const P = { baseline_days: 31, min_cases: 10 }
const STABLE = { ES35: 12, ES33: 4, ES31: 4 }

describe('case-mix-drift: base weights', () => {
  it('divides a complication-split group by its lightest sibling, and leaves unsplit or unknown groups at their own weight', () => {
    const base = baseWeights(kb)
    expect(base('DRG', 'ES31', 1.42)).toBe(0.78)
    expect(base('DRG', 'ES35', 0.78)).toBe(0.78)
    expect(base('DRG', 'FM19', 2.65)).toBe(2.65)
    expect(base('DIP', 'ES31', 1.42)).toBe(1.42)
    expect(base('DRG', 'ZZ99', 3)).toBe(3)
  })
})

describe('case-mix-drift', () => {
  it('flags a hospital whose cases turn heavier than its own baseline and its peers\', with the amount the rise adds', async () => {
    const drift = [...cases(H[0]!, '2026-01', { ES35: 14, ES33: 4, ES31: 2 }), ...cases(H[0]!, '2026-02', { ES35: 4, ES33: 6, ES31: 10 })]
    const peers = H.slice(1).flatMap((c) => [...cases(c, '2026-01', STABLE), ...cases(c, '2026-02', STABLE)])
    await storeEvents(app.store, evs([...drift, ...peers]))
    const f = await runDetector(detector, app.store, kb, '2026-02-01', '2026-02-28', P)
    expect(f).toHaveLength(1)
    const x = f[0]!
    expect(x.subject).toEqual({ fixmedins_code: H[0] })
    expect(x.key).toBe(H[0])
    const ix = x.evidence.indices as Record<string, unknown>[]
    expect(ix.map((i) => i.index)).toEqual(['severity', 'cmi'])
    // CMI: (14 × 0.78 + 4 × 1.02 + 2 × 1.42) / 20 = 0.892 → (4 × 0.78 + 6 × 1.02 + 10 × 1.42) / 20 = 1.172.
    expect(ix[1]).toMatchObject({ window: 1.172, baseline: 0.892, rise: 0.3139, peers: 3, peer_median_ratio: 1, excess_over_peers: 0.3139, peer_group: 'L3/综合医院' })
    expect(x.evidence).toMatchObject({ cases_window: 20, cases_baseline: 20, baseline: { from: '2026-01-01', to: '2026-01-31' } })
    // 20 cases × 600 fund × (1 − 0.892 / 1.172).
    expect(x.amount_fen / 100).toBeCloseTo(12000 * (1 - 0.892 / 1.172), 2)
    // The window's cases with the largest uplift (ES31) are cited first.
    const es31 = new Set(drift.filter((c) => c.group === 'ES31' && c.month === '2026-02').map((c) => c.setl_id))
    expect(x.refs.setl_ids!.slice(0, 10).every((id) => es31.has(id))).toBe(true)
    expect(x.refs.setl_ids).toHaveLength(20)
  })

  it('tells a heavier disease mix (cmi) from heavier coding (severity)', async () => {
    const mix = [...cases(H[0]!, '2026-04', { ES35: 20 }), ...cases(H[0]!, '2026-05', { ES35: 10, FM19: 10 })]
    const peers = H.slice(1).flatMap((c) => [...cases(c, '2026-04', STABLE), ...cases(c, '2026-05', STABLE)])
    await storeEvents(app.store, evs([...mix, ...peers]))
    const both = await runDetector(detector, app.store, kb, '2026-05-01', '2026-05-31', P)
    expect(both).toHaveLength(1)
    expect((both[0]!.evidence.indices as { index: string }[]).map((i) => i.index)).toEqual(['cmi'])
    expect(await runDetector(detector, app.store, kb, '2026-05-01', '2026-05-31', { ...P, indices: ['severity'] })).toEqual([])
  })

  it('does not flag a rise every peer shares, unless there are too few peers to tell', async () => {
    const all = H.flatMap((c) => [...cases(c, '2026-07', { ES35: 14, ES33: 4, ES31: 2 }), ...cases(c, '2026-08', { ES35: 4, ES33: 6, ES31: 10 })])
    await storeEvents(app.store, evs(all))
    expect(await runDetector(detector, app.store, kb, '2026-08-01', '2026-08-31', P)).toEqual([])
    const alone = await runDetector(detector, app.store, kb, '2026-08-01', '2026-08-31', { ...P, min_peers: 10 })
    expect(alone.map((x) => x.subject.fixmedins_code).sort()).toEqual([...H].sort())
    expect((alone[0]!.evidence.indices as { peers: number }[])[0]!.peers).toBe(0)
    expect(alone[0]!.message.en).toContain('no peer check')
  })

  it('needs min_cases in both periods and a significant rise, and leaves reversed settlements out', async () => {
    // H0: a big rise on 5 cases. H1: heavy window cases, later reversed. H2, H3: stable.
    const few = [...cases(H[0]!, '2026-10', { ES35: 5 }), ...cases(H[0]!, '2026-11', { ES31: 5 })]
    const heavy = cases(H[1]!, '2026-11', { ES31: 8 })
    const stable = [
      ...cases(H[1]!, '2026-10', { ES35: 12 }), ...cases(H[1]!, '2026-11', { ES35: 12 }),
      ...H.slice(2).flatMap((c) => [...cases(c, '2026-10', STABLE), ...cases(c, '2026-11', STABLE)]),
    ]
    await storeEvents(app.store, evs([...few, ...heavy, ...stable]))
    // Before the reversals arrive, H1's rise (12 × 0.78 + 8 × 1.42 against 0.78) is reported; H0 is not judged on 5 cases.
    const before = await runDetector(detector, app.store, kb, '2026-11-01', '2026-11-30', P)
    expect(before.map((x) => x.subject.fixmedins_code)).toEqual([H[1]])
    await storeEvents(app.store, heavy.map((c) => settlementReversed({ fixmedins_code: H[1]!, mdtrt_id: c.mdtrt_id, setl_id: c.setl_id!, time: '2026-11-28T10:00:00+08:00' })))
    expect(await runDetector(detector, app.store, kb, '2026-11-01', '2026-11-30', P)).toEqual([])
  })

  it('does not report a rise a few cases could make by chance', async () => {
    // Two of twenty cases move from ES35 to ES31: +6.7 % CMI, but z ≈ 0.75.
    const h0 = [...cases(H[0]!, '2027-01', STABLE), ...cases(H[0]!, '2027-02', { ES35: 10, ES33: 4, ES31: 6 })]
    const peers = H.slice(1).flatMap((c) => [...cases(c, '2027-01', STABLE), ...cases(c, '2027-02', STABLE)])
    await storeEvents(app.store, evs([...h0, ...peers]))
    expect(await runDetector(detector, app.store, kb, '2027-02-01', '2027-02-28', P)).toEqual([])
    const lax = await runDetector(detector, app.store, kb, '2027-02-01', '2027-02-28', { ...P, z_threshold: 0.5 })
    expect(lax.map((x) => x.subject.fixmedins_code)).toEqual([H[0]])
  })
})
