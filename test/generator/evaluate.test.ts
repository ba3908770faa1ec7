import { describe, expect, it } from 'vitest'
import { PATTERNS } from '../../src/detect/patterns.ts'
import { alertStatus, evaluate, scoreNearMisses } from '../../src/generator/evaluate.ts'
import { alertMatchesLabel, type AlertRefs, type Label, type NearMiss } from '../../src/generator/labels.ts'

const H = 'H37070200001'
const H2 = 'H37070200002'

function label(pattern: Label['pattern'], refs: Partial<Label['refs']>, extra: Partial<Label> = {}): Label {
  return { pattern, fixmedins_code: H, refs: { mdtrt_ids: [], feedetl_sns: [], setl_ids: [], ...refs }, note: 'hand-made', ...extra }
}
function alert(id: string, refs: Partial<AlertRefs['refs']>, subject: Partial<AlertRefs['subject']> = {}): AlertRefs {
  return { detector: { id }, refs: { mdtrt_ids: [], feedetl_sns: [], setl_ids: [], ...refs }, subject: { fixmedins_code: H, ...subject } }
}
/** An alert document with issue 9's lifecycle status, which the Alert type may not have yet. */
type Revised = AlertRefs & { alert_id: string; status: 'active' | 'updated' | 'withdrawn'; revision: number }
function revised(alert_id: string, a: AlertRefs, status: Revised['status'], revision = status === 'active' ? 1 : 2): Revised {
  return { ...a, alert_id, status, revision }
}
function nearMiss(kind: string, pattern: NearMiss['pattern'], refs: Partial<NearMiss['refs']>, extra: Partial<NearMiss> = {}): NearMiss {
  return { kind, pattern, fixmedins_code: H, refs: { mdtrt_ids: [], feedetl_sns: [], setl_ids: [], ...refs }, note: 'hand-made', ...extra }
}

describe('evaluate', () => {
  it('matches on feedetl_sns when the label has any, even if visits agree', () => {
    const l = label('duplicate-charge', { feedetl_sns: ['L1', 'L2'], mdtrt_ids: ['M1'] })
    expect(alertMatchesLabel(alert('duplicate-charge', { feedetl_sns: ['L2', 'L9'] }), l)).toBe(true)
    expect(alertMatchesLabel(alert('duplicate-charge', { feedetl_sns: ['L3'], mdtrt_ids: ['M1'] }), l)).toBe(false)
    expect(alertMatchesLabel(alert('restricted-item', { feedetl_sns: ['L1'] }), l)).toBe(false)
  })

  it('falls back to mdtrt_ids, then setl_ids, then the subject', () => {
    const byVisit = label('split-hospitalization', { mdtrt_ids: ['M1', 'M2'] })
    expect(alertMatchesLabel(alert('split-hospitalization', { mdtrt_ids: ['M2'] }), byVisit)).toBe(true)
    expect(alertMatchesLabel(alert('split-hospitalization', {}, { mdtrt_id: 'M1' }), byVisit)).toBe(true)
    expect(alertMatchesLabel(alert('split-hospitalization', { mdtrt_ids: ['M3'] }), byVisit)).toBe(false)
    const bySetl = label('drg-upcoding', { setl_ids: ['S1'] })
    expect(alertMatchesLabel(alert('drg-upcoding', { setl_ids: ['S1'] }), bySetl)).toBe(true)
    expect(alertMatchesLabel(alert('drg-upcoding', { mdtrt_ids: ['M1'] }), bySetl)).toBe(false)
    const byProvider = label('provider-outlier', {})
    expect(alertMatchesLabel(alert('provider-outlier', {}), byProvider)).toBe(true)
    expect(alertMatchesLabel(alert('provider-outlier', {}, { fixmedins_code: H2 }), byProvider)).toBe(false)
    const byPerson = label('frequent-visits', {}, { psn_no: 'P1' })
    expect(alertMatchesLabel(alert('frequent-visits', {}, { psn_no: 'P1' }), byPerson)).toBe(true)
    expect(alertMatchesLabel(alert('frequent-visits', {}, { psn_no: 'P2' }), byPerson)).toBe(false)
  })

  it('counts true and false positives per alert and misses per label', () => {
    const labels = [
      label('duplicate-charge', { feedetl_sns: ['A1', 'A2'] }),
      label('duplicate-charge', { feedetl_sns: ['B1', 'B2'] }),
      label('duplicate-charge', { feedetl_sns: ['C1', 'C2'] }),
      label('split-hospitalization', { mdtrt_ids: ['M1', 'M2'] }),
      label('inventory-mismatch', {}, { fixmedins_code: H2 }),
    ]
    const alerts = [
      alert('duplicate-charge', { feedetl_sns: ['A1', 'A2'] }),
      alert('duplicate-charge', { feedetl_sns: ['A2'] }), // a second alert on the same finding is still a TP
      alert('duplicate-charge', { feedetl_sns: ['B2'] }),
      alert('duplicate-charge', { feedetl_sns: ['Z1', 'Z2'] }), // clean data flagged
      alert('split-hospitalization', { mdtrt_ids: ['M7', 'M8'] }),
      alert('inventory-mismatch', {}, { fixmedins_code: H2 }),
      alert('not-a-pattern', { feedetl_sns: ['A1'] }),
    ]
    const r = evaluate(alerts, labels)
    expect(r.size).toBe(Object.keys(PATTERNS).length)
    expect(r.get('duplicate-charge')).toEqual({ tp: 3, fp: 1, fn: 1, precision: 0.75, recall: 2 / 3, recallRaised: 2 / 3, alerts: 4, withdrawn: 0, labels: 3 })
    expect(r.get('split-hospitalization')).toEqual({ tp: 0, fp: 1, fn: 1, precision: 0, recall: 0, recallRaised: 0, alerts: 1, withdrawn: 0, labels: 1 })
    expect(r.get('inventory-mismatch')).toEqual({ tp: 1, fp: 0, fn: 0, precision: 1, recall: 1, recallRaised: 1, alerts: 1, withdrawn: 0, labels: 1 })
    expect(r.get('collusion')).toEqual({ tp: 0, fp: 0, fn: 0, precision: 1, recall: 1, recallRaised: 1, alerts: 0, withdrawn: 0, labels: 0 })
  })

  it('scores a silent detector as missing everything, without false alarms', () => {
    const r = evaluate([], [label('bed-holding', { mdtrt_ids: ['M1'] }), label('bed-holding', { mdtrt_ids: ['M2'] })])
    expect(r.get('bed-holding')).toEqual({ tp: 0, fp: 0, fn: 2, precision: 1, recall: 0, recallRaised: 0, alerts: 0, withdrawn: 0, labels: 2 })
  })

  it('reads the status of an alert document defensively: none (before revisions) is active', () => {
    expect(alertStatus(alert('duplicate-charge', {}))).toBe('active')
    expect(alertStatus({ status: 'withdrawn' })).toBe('withdrawn')
    expect(alertStatus({ status: 'updated' })).toBe('updated')
    expect(alertStatus({ status: 'something-else' })).toBe('active')
  })

  it('leaves a withdrawn alert out of precision and recall, and counts it in recall raised', () => {
    const labels = [label('phantom-service', { feedetl_sns: ['B1', 'B2'] }), label('phantom-service', { feedetl_sns: ['C1'] })]
    const alerts = [
      revised('a1', alert('phantom-service', { feedetl_sns: ['B1', 'B2'] }), 'updated'),
      revised('a2', alert('phantom-service', { feedetl_sns: ['N1', 'N2'] }), 'withdrawn'), // pre-billed days the discharge covered
      revised('a3', alert('phantom-service', { feedetl_sns: ['C1'] }), 'withdrawn'), // a true finding withdrawn by mistake
    ]
    expect(evaluate(alerts, labels).get('phantom-service')).toEqual({ tp: 1, fp: 0, fn: 1, precision: 1, recall: 0.5, recallRaised: 1, alerts: 1, withdrawn: 2, labels: 2 })
  })
})

describe('scoreNearMisses', () => {
  const reversedDup = nearMiss('reversed-duplicate', 'duplicate-charge', { mdtrt_ids: ['M1'], feedetl_sns: ['D1', 'D2'] })
  const preBilled = nearMiss('pre-billed-bed-days', 'phantom-service', { mdtrt_ids: ['M2'], feedetl_sns: ['B1', 'B2', 'B3'] })

  it('counts an active alert on a near miss as false and a withdrawn one as not', () => {
    const active = revised('x1', alert('duplicate-charge', { feedetl_sns: ['D1', 'D2'] }), 'active')
    const withdrawn = revised('x2', alert('phantom-service', { feedetl_sns: ['B1', 'B2', 'B3'] }), 'withdrawn')
    const r = scoreNearMisses([active, withdrawn], [reversedDup, preBilled])
    expect(r.byDetector.get('duplicate-charge')).toEqual({ nearMisses: 1, raised: 1, withdrawn: 0, false: 1, precision: 0 })
    expect(r.byDetector.get('phantom-service')).toEqual({ nearMisses: 1, raised: 1, withdrawn: 1, false: 0, precision: 1 })
    expect(r.byKind.get('reversed-duplicate')).toEqual({ nearMisses: 1, raised: 1, withdrawn: 0, false: 1, precision: 0, pattern: 'duplicate-charge' })
    expect(r.byKind.get('pre-billed-bed-days')).toEqual({ nearMisses: 1, raised: 1, withdrawn: 1, false: 0, precision: 1, pattern: 'phantom-service' })
    // Once withdrawn, the duplicate is not false either; an updated revision still stands.
    expect(scoreNearMisses([revised('x1', active, 'withdrawn')], [reversedDup]).byDetector.get('duplicate-charge')!.false).toBe(0)
    expect(scoreNearMisses([revised('x1', active, 'updated')], [reversedDup]).byDetector.get('duplicate-charge')!.false).toBe(1)
  })

  it('counts an alert without a status (stored before revisions) as standing', () => {
    const r = scoreNearMisses([alert('duplicate-charge', { feedetl_sns: ['D2'] })], [reversedDup])
    expect(r.byDetector.get('duplicate-charge')).toEqual({ nearMisses: 1, raised: 1, withdrawn: 0, false: 1, precision: 0 })
  })

  it('ignores alerts of other detectors and alerts on other records', () => {
    const r = scoreNearMisses([
      revised('y1', alert('over-quantity', { feedetl_sns: ['D1'] }), 'active'),
      revised('y2', alert('duplicate-charge', { feedetl_sns: ['Z1', 'Z2'], mdtrt_ids: ['M1'] }), 'active'),
    ], [reversedDup])
    expect(r.byDetector.get('duplicate-charge')).toEqual({ nearMisses: 1, raised: 0, withdrawn: 0, false: 0, precision: 1 })
    expect(r.byDetector.has('over-quantity')).toBe(false)
    expect(r.byKind.get('reversed-duplicate')!.raised).toBe(0)
  })

  it('allows a persisting real finding its one alert: a second standing one is false, a superseded one is not', () => {
    const persisting = nearMiss('persisting-audit-finding', 'inventory-mismatch', { mdtrt_ids: ['S1', 'S2'] }, { expected_alerts: 1 })
    const night1 = revised('n1', alert('inventory-mismatch', { mdtrt_ids: ['S1', 'S2'] }), 'active')
    const night2 = revised('n2', alert('inventory-mismatch', { mdtrt_ids: ['S2'] }), 'active')
    expect(scoreNearMisses([night1], [persisting]).byDetector.get('inventory-mismatch')).toEqual({ nearMisses: 1, raised: 1, withdrawn: 0, false: 0, precision: 1 })
    expect(scoreNearMisses([night1, night2], [persisting]).byDetector.get('inventory-mismatch')).toEqual({ nearMisses: 1, raised: 2, withdrawn: 0, false: 1, precision: 0.5 })
    expect(scoreNearMisses([revised('n1', night1, 'withdrawn'), night2], [persisting]).byDetector.get('inventory-mismatch')).toEqual({ nearMisses: 1, raised: 2, withdrawn: 1, false: 0, precision: 1 })
  })
})
