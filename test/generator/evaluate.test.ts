import { describe, expect, it } from 'vitest'
import { PATTERNS } from '../../src/detect/patterns.ts'
import { evaluate } from '../../src/generator/evaluate.ts'
import { alertMatchesLabel, type AlertRefs, type Label } from '../../src/generator/labels.ts'

const H = 'H37070200001'
const H2 = 'H37070200002'

function label(pattern: Label['pattern'], refs: Partial<Label['refs']>, extra: Partial<Label> = {}): Label {
  return { pattern, fixmedins_code: H, refs: { mdtrt_ids: [], feedetl_sns: [], setl_ids: [], ...refs }, note: 'hand-made', ...extra }
}
function alert(id: string, refs: Partial<AlertRefs['refs']>, subject: Partial<AlertRefs['subject']> = {}): AlertRefs {
  return { detector: { id }, refs: { mdtrt_ids: [], feedetl_sns: [], setl_ids: [], ...refs }, subject: { fixmedins_code: H, ...subject } }
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
    expect(r.get('duplicate-charge')).toEqual({ tp: 3, fp: 1, fn: 1, precision: 0.75, recall: 2 / 3, alerts: 4, labels: 3 })
    expect(r.get('split-hospitalization')).toEqual({ tp: 0, fp: 1, fn: 1, precision: 0, recall: 0, alerts: 1, labels: 1 })
    expect(r.get('inventory-mismatch')).toEqual({ tp: 1, fp: 0, fn: 0, precision: 1, recall: 1, alerts: 1, labels: 1 })
    expect(r.get('collusion')).toEqual({ tp: 0, fp: 0, fn: 0, precision: 1, recall: 1, alerts: 0, labels: 0 })
  })

  it('scores a silent detector as missing everything, without false alarms', () => {
    const r = evaluate([], [label('bed-holding', { mdtrt_ids: ['M1'] }), label('bed-holding', { mdtrt_ids: ['M2'] })])
    expect(r.get('bed-holding')).toEqual({ tp: 0, fp: 0, fn: 2, precision: 1, recall: 0, alerts: 0, labels: 2 })
  })
})
