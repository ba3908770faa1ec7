// The shapes the console reads are the API's own response schemas
// (src/api/schemas.ts, which also generate the OpenAPI document at /docs/json),
// taken on their wire side (z.input: what the API encodes to) and as types
// only, so the console and the API cannot drift apart. Type imports vanish
// from the bundle.
import type { z } from 'zod'
import type * as Api from '../../src/api/schemas.ts'

export type Text = { zh: string; en: string }
export type Status = Workflow['status']
export const OPEN_STATUSES: Status[] = ['new', 'first_review', 'second_review', 'appeal', 'investigation']
export const ALL_STATUSES: Status[] = [...OPEN_STATUSES, 'decided', 'dismissed']

export type Workflow = z.input<typeof Api.Workflow>
export type Decision = NonNullable<Workflow['decision']>
export type AlertItem = z.input<typeof Api.AlertItem>
export type Action = z.input<typeof Api.Action>
export type Feedback = z.input<typeof Api.Feedback>
export type Visit = z.input<typeof Api.Visit>
export type Discharge = z.input<typeof Api.Discharge>
export type FeeLine = z.input<typeof Api.FeeLine>
export type Settlement = z.input<typeof Api.Settlement>
export type Case = z.input<typeof Api.Case>
export type TimelineEntry = z.input<typeof Api.TimelineEntry>
export type DetectorInfo = z.input<typeof Api.DetectorInfo>
export type InstitutionRisk = z.input<typeof Api.InstitutionRisk>
export type EvidenceLabels = DetectorInfo['evidence_labels']

export type AlertDetail = z.input<typeof Api.AlertDetail>
export type CaseDetail = z.input<typeof Api.CaseDetail>
export type WorkflowConfig = z.input<typeof Api.WorkflowInfo>
export type MeInfo = z.input<typeof Api.Me>
export type DeadLetterSummary = z.input<typeof Api.DeadLetterSummary>
export type DeadLetterDetail = z.input<typeof Api.DeadLetterDetail>
export type DeadLetterListing = { from: string; to: string | null; counts: z.input<typeof Api.DeadLetterCount>[]; total: number; dead_letters: DeadLetterSummary[]; next?: string }

/** A stored alert the API could not answer whole (logged server-side with its id). */
export type DegradedAlert = z.input<typeof Api.DegradedAlert>
export type AlertOrDegraded = AlertItem | DegradedAlert

export function isDegraded(a: AlertOrDegraded): a is DegradedAlert {
  return 'degraded' in a
}

/** The whole alerts of a list, and the ids of those that came degraded (shown as a notice, never as a row). */
export function splitDegraded(list: readonly AlertOrDegraded[]): { whole: AlertItem[]; degraded: string[] } {
  const whole: AlertItem[] = []
  const degraded: string[] = []
  for (const a of list) if (isDegraded(a)) degraded.push(a.alert_id); else whole.push(a)
  return { whole, degraded }
}
