import type { Alert } from '../../schemas/alert.ts'
import type { PatternId } from '../detect/patterns.ts'

/**
 * A label: one injected finding, named by the pattern (= detector id) that
 * should report it and the records it rests on.
 *
 * Matching rule (evaluate.ts): an alert matches a label when
 * `alert.detector.id === label.pattern` and their refs intersect — on
 * feedetl_sns when the label has any, else on mdtrt_ids, else on setl_ids,
 * else on the subject (same fixmedins_code, and same psn_no when the label
 * names one); an alert's subject.mdtrt_id and subject.setl_id count among its
 * refs. Line-level findings (duplicate-charge, restricted-item …) carry
 * feedetl_sns; visit-level ones (split-hospitalization, bed-holding, identity
 * misuse …) mdtrt_ids only; provider-level audit findings (provider-outlier,
 * case-mix-drift, inventory-mismatch, capacity-exceeded) no refs at all, so they
 * match on the institution.
 */
export interface Label {
  pattern: PatternId
  psn_no?: string
  fixmedins_code: string
  refs: { mdtrt_ids: string[]; feedetl_sns: string[]; setl_ids: string[] }
  /** The variant injected and the facts that make it fraud, for a human reading a miss. */
  note: string
}

/**
 * A near miss: data that looks like a pattern but is legitimate (a planned
 * chemotherapy readmission, a woman's obstetric item, a duplicate reversed
 * minutes later …). Not a label: an alert on it is a false positive, unless
 * later facts withdrew it (evaluate.ts scoreNearMisses). One record per
 * detector it may wrongly trigger (a shape two detectors could mistake gets
 * two records, as the dialysis patient does). Matched to alerts by the rule
 * of labels (below), with `pattern` as the label's.
 */
export interface NearMiss {
  /** The shape (e.g. `reversed-duplicate`, `pre-billed-bed-days`, `persisting-audit-finding`). */
  kind: string
  /** The detector that must stay quiet. */
  pattern: PatternId
  psn_no?: string
  fixmedins_code: string
  refs: { mdtrt_ids: string[]; feedetl_sns: string[]; setl_ids: string[] }
  note: string
  /**
   * Alerts the records deserve (default 0). A real finding that must not be
   * raised again when it persists (one audit alert across nightly runs) is
   * also a label and has 1: alerts beyond it are false.
   */
  expected_alerts?: number
}

export function emptyRefs(): Label['refs'] {
  return { mdtrt_ids: [], feedetl_sns: [], setl_ids: [] }
}

function intersects(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return false
  const s = new Set(a)
  for (const x of b) if (s.has(x)) return true
  return false
}

/** What matching reads of an alert (schemas/alert.ts Alert has all of it). */
export interface AlertRefs {
  detector: Pick<Alert['detector'], 'id'>
  refs: Pick<Alert['refs'], 'mdtrt_ids' | 'feedetl_sns' | 'setl_ids'>
  subject: Pick<Alert['subject'], 'fixmedins_code' | 'psn_no' | 'mdtrt_id' | 'setl_id'>
}

/** The matching rule above, for one alert and one label. */
export function alertMatchesLabel(alert: AlertRefs, label: Label): boolean {
  if (alert.detector.id !== label.pattern) return false
  const r = label.refs
  if (r.feedetl_sns.length) return intersects(r.feedetl_sns, alert.refs.feedetl_sns)
  // A visit or settlement named only as the alert's subject counts as referenced.
  if (r.mdtrt_ids.length) return intersects(r.mdtrt_ids, alert.subject.mdtrt_id ? [...alert.refs.mdtrt_ids, alert.subject.mdtrt_id] : alert.refs.mdtrt_ids)
  if (r.setl_ids.length) return intersects(r.setl_ids, alert.subject.setl_id ? [...alert.refs.setl_ids, alert.subject.setl_id] : alert.refs.setl_ids)
  if (alert.subject.fixmedins_code !== label.fixmedins_code) return false
  return label.psn_no === undefined || alert.subject.psn_no === label.psn_no
}
