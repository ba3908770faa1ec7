import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import {
  HOSPITAL, HOSPITAL_2, Timeline, latestByKey, settlementCompleted, visitClosed, visitOpened, type CloseArgs, type OpenArgs,
} from '../../test/helpers/detect.ts'

type P = Parameters<typeof detector.params.parse>[0]

/** A person with one closed stay E (3 → 5 March, pneumonia) at HOSPITAL. */
function withEarlierStay(params: P = {}, close: Partial<CloseArgs> = {}, open: Partial<OpenArgs> = {}) {
  const t = new Timeline(detector, undefined, params ?? {})
  t.push(visitOpened({ mdtrt_id: 'E1', begntime: '2026-03-01T10:00:00+08:00', diagnoses: [{ diag_code: 'J18.900' }], ...open }))
  t.push(visitClosed({ mdtrt_id: 'E1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900', ...close }))
  return t
}
const readmit = (begntime: string, over: Partial<OpenArgs> = {}) =>
  visitOpened({ mdtrt_id: 'L1', begntime, diagnoses: [{ diag_code: 'J18.000' }], ...over })

describe('split-hospitalization: the window', () => {
  it('flags a readmission exactly window_days (15) calendar days after discharge, same category', () => {
    const t = withEarlierStay()
    const f = t.push(readmit('2026-03-20T08:00:00+08:00'))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe('E1>L1')
    expect(f[0]!.refs.mdtrt_ids).toEqual(['E1', 'L1'])
    expect(f[0]!.evidence).toMatchObject({ gap_days: 15, window_days: 15, matched_category: 'J18' })
    expect(f[0]!.amount_fen / 100).toBe(0)
    expect(f[0]!.event_time).toBe('2026-03-20T08:00:00+08:00')
  })

  it('does not flag one day later (16 days)', () => {
    expect(withEarlierStay().push(readmit('2026-03-21T08:00:00+08:00'))).toEqual([])
  })

  it('counts China calendar days: a 00:30 discharge belongs to that China day, not the UTC day before', () => {
    // Discharged 6 March 00:30 China time (5 March in UTC); 21 March is 15 China days later, 16 UTC days.
    const t = withEarlierStay({}, { endtime: '2026-03-05T16:30:00Z' })
    expect(t.push(readmit('2026-03-21T09:00:00+08:00'))).toHaveLength(1)
  })

  it('honours window_days', () => {
    expect(withEarlierStay({ window_days: 30 }).push(readmit('2026-04-04T08:00:00+08:00'))).toHaveLength(1)
    expect(withEarlierStay({ window_days: 7 }).push(readmit('2026-03-13T08:00:00+08:00'))).toEqual([])
  })

  it('flags a same-day readmission', () => {
    expect(withEarlierStay().push(readmit('2026-03-05T15:00:00+08:00'))).toHaveLength(1)
  })

  it('reads window_days + 1 + amount_followup_days of history', () => {
    expect(detector.lookbackDays!(detector.params.parse({}))).toBe(46)
    expect(detector.lookbackDays!(detector.params.parse({ window_days: 10, amount_followup_days: 0 }))).toBe(11)
  })
})

describe('split-hospitalization: diagnoses', () => {
  it('does not flag an unrelated principal diagnosis', () => {
    expect(withEarlierStay().push(readmit('2026-03-10T08:00:00+08:00', { diagnoses: [{ diag_code: 'K35.800' }] }))).toEqual([])
  })

  it('matches to the configured depth', () => {
    const j20 = { diagnoses: [{ diag_code: 'J20.900' }] }
    expect(withEarlierStay().push(readmit('2026-03-10T08:00:00+08:00', j20))).toEqual([])
    expect(withEarlierStay({ diag_match_chars: 1 }).push(readmit('2026-03-10T08:00:00+08:00', j20))).toHaveLength(1)
    // Depth 4 ignores the dot: J18.9 and J18.0 differ in the fourth character.
    expect(withEarlierStay({ diag_match_chars: 4 }).push(readmit('2026-03-10T08:00:00+08:00'))).toEqual([])
  })

  it('uses the discharge diagnosis once the readmission closes, under the same key', () => {
    const t = withEarlierStay()
    expect(t.push(readmit('2026-03-10T08:00:00+08:00', { diagnoses: [{ diag_code: 'R50.900' }] }))).toEqual([])
    const f = t.push(visitClosed({ mdtrt_id: 'L1', endtime: '2026-03-15T10:00:00+08:00', dscg_maindiag_code: 'J18.100' }))
    expect(f.map((x) => x.key)).toEqual(['E1>L1'])
  })
})

describe('split-hospitalization: exclusions', () => {
  it('skips planned cycles: chemotherapy as principal or secondary diagnosis, dialysis', () => {
    const chemo = withEarlierStay({}, { dscg_maindiag_code: 'C34.900' }, { diagnoses: [{ diag_code: 'C34.900' }] })
    expect(chemo.push(readmit('2026-03-10T08:00:00+08:00', { diagnoses: [{ diag_code: 'C34.900' }, { diag_code: 'Z51.102' }] }))).toEqual([])
    const z51 = withEarlierStay({}, { dscg_maindiag_code: 'Z51.100' })
    expect(z51.push(readmit('2026-03-10T08:00:00+08:00', { diagnoses: [{ diag_code: 'Z51.100' }] }))).toEqual([])
    const dialysis = withEarlierStay({}, { dscg_maindiag_code: 'N18.500' })
    expect(dialysis.push(readmit('2026-03-10T08:00:00+08:00', { diagnoses: [{ diag_code: 'N18.500' }, { diag_code: 'Z49.101' }] }))).toEqual([])
  })

  it('flags the same cancer readmission when chemotherapy is not on it, and when Z51 is removed from the planned list', () => {
    const plain = withEarlierStay({}, { dscg_maindiag_code: 'C34.900' })
    expect(plain.push(readmit('2026-03-10T08:00:00+08:00', { diagnoses: [{ diag_code: 'C34.901' }] }))).toHaveLength(1)
    const strict = withEarlierStay({ planned_cycle_prefixes: ['Z49'] }, { dscg_maindiag_code: 'C34.900' })
    expect(strict.push(readmit('2026-03-10T08:00:00+08:00', { diagnoses: [{ diag_code: 'C34.900' }, { diag_code: 'Z51.102' }] }))).toHaveLength(1)
  })

  it('skips an earlier stay that ended in death or transfer, not one that ended on medical advice', () => {
    expect(withEarlierStay({}, { dscg_way: '5' }).push(readmit('2026-03-10T08:00:00+08:00'))).toEqual([])
    expect(withEarlierStay({}, { dscg_way: '2' }).push(readmit('2026-03-10T08:00:00+08:00'))).toEqual([])
    expect(withEarlierStay({}, { dscg_way: '4' }).push(readmit('2026-03-10T08:00:00+08:00'))).toHaveLength(1)
  })

  it('pairs only stays at the same institution unless told otherwise', () => {
    const other = { fixmedins_code: HOSPITAL_2 }
    expect(withEarlierStay().push(readmit('2026-03-10T08:00:00+08:00', other))).toEqual([])
    const f = withEarlierStay({ same_institution: false }).push(readmit('2026-03-10T08:00:00+08:00', other))
    expect(f).toHaveLength(1)
    expect(f[0]!.subject.fixmedins_code).toBe(HOSPITAL_2)
  })

  it('ignores outpatient visits on either side', () => {
    expect(withEarlierStay().push(readmit('2026-03-10T08:00:00+08:00', { med_type: '11' }))).toEqual([])
    expect(withEarlierStay({}, {}, { med_type: '14' }).push(readmit('2026-03-10T08:00:00+08:00'))).toEqual([])
  })

  it('does not pair overlapping stays (that is a phantom-service pattern)', () => {
    const t = new Timeline(detector)
    t.push(visitOpened({ mdtrt_id: 'E1', begntime: '2026-03-01T10:00:00+08:00', diagnoses: [{ diag_code: 'J18.900' }] }))
    t.push(readmit('2026-03-03T08:00:00+08:00'))
    expect(t.push(visitClosed({ mdtrt_id: 'E1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))).toEqual([])
  })
})

describe('split-hospitalization: amount, order and redelivery', () => {
  it('re-issues the finding on the readmission settlement with the fund payment, same key', () => {
    const t = withEarlierStay()
    const events = [
      readmit('2026-03-10T08:00:00+08:00'),
      visitClosed({ mdtrt_id: 'L1', endtime: '2026-03-14T10:00:00+08:00', dscg_maindiag_code: 'J18.000' }),
      settlementCompleted({ mdtrt_id: 'L1', setl_id: 'S1', setl_time: '2026-03-14T11:00:00+08:00', fund_pay_sumamt: '3200.50' }),
    ]
    const all = t.pushAll(events)
    expect(all.map((f) => f.key)).toEqual(['E1>L1', 'E1>L1', 'E1>L1'])
    const latest = latestByKey(all).get('E1>L1')!
    expect(latest.amount_fen / 100).toBe(3200.5)
    expect(latest.refs.setl_ids).toEqual(['S1'])
    expect(latest.subject.setl_id).toBe('S1')
    expect(latest.event_time).toBe(all[0]!.event_time)
  })

  it('does not report the earlier stay\'s own settlement', () => {
    const t = withEarlierStay()
    expect(t.push(settlementCompleted({ mdtrt_id: 'E1', setl_time: '2026-03-05T11:00:00+08:00' }))).toEqual([])
  })

  it('finds the pair when the earlier discharge arrives after the readmission', () => {
    const t = new Timeline(detector)
    t.push(visitOpened({ mdtrt_id: 'E1', begntime: '2026-03-01T10:00:00+08:00', diagnoses: [{ diag_code: 'J18.900' }] }))
    expect(t.push(readmit('2026-03-10T08:00:00+08:00'))).toEqual([])
    const f = t.push(visitClosed({ mdtrt_id: 'E1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))
    expect(f.map((x) => x.key)).toEqual(['E1>L1'])
  })

  it('gives a redelivered admission the same key', () => {
    const t = withEarlierStay()
    const ev = readmit('2026-03-10T08:00:00+08:00')
    expect(t.push(ev).map((f) => f.key)).toEqual(t.push(ev).map((f) => f.key))
  })

  it('pairs a readmission with the latest earlier stay only', () => {
    const t = withEarlierStay()
    t.push(visitOpened({ mdtrt_id: 'E2', begntime: '2026-03-08T10:00:00+08:00', diagnoses: [{ diag_code: 'J18.900' }] }))
    t.push(visitClosed({ mdtrt_id: 'E2', endtime: '2026-03-12T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))
    expect(t.push(readmit('2026-03-15T08:00:00+08:00')).map((f) => f.key)).toEqual(['E2>L1'])
  })

  it('names the readmission as subject and the institution', () => {
    const f = withEarlierStay().push(readmit('2026-03-10T08:00:00+08:00', { atddr_no: 'DR0099' }))
    expect(f[0]!.subject).toEqual({ fixmedins_code: HOSPITAL, psn_no: 'PSN00000001', mdtrt_id: 'L1', doctor: 'DR0099' })
  })
})
