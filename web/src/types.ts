// The shapes the console reads are the API's own response schemas
// (src/api/schemas.ts, which also generate the OpenAPI document at /docs/json),
// taken on their wire side (z.input: what the API encodes to) and as types
// only, so the console and the API cannot drift apart. Type imports vanish
// from the bundle.
import type { z } from 'zod'
import type * as Api from '../../src/api/schemas.ts'
import type * as Bt from '../../src/backtest/result.ts'

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
export type UserInfo = z.input<typeof Api.UserOut>
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

// The rule analyst's bench (issue 14). The backtest's result is its own
// schema (src/backtest/result.ts, one source for the CLI, the API and here);
// the rule routes declare their response schemas inline
// (src/api/plugins/rules.ts, backtest.ts), so these few mirror them.
export type RuleMode = z.input<typeof Bt.RuleMode>
export interface RuleChange { hash: string; at: string; by: string; source: string; reason: string; parent: string; detectors: string[] }
/** GET /rules: the rule base in force (its hash and whole text; '' = no version recorded, the defaults) and its history. */
export interface RulesInForce { hash: string; text: string; active: { id: string; version: string; params_hash: string; params: Record<string, unknown> }[]; changes: RuleChange[] }
export type RuleVersion = RuleChange & { text: string }
/** POST /rules/validate: the candidate's hash and its difference from the rule base in force, per detector over the effective rule (null = not set). */
export interface RuleValidation { hash: string; detectors: { id: string; mode: RuleMode; params_hash: string }[]; diff: { detector: string; path: string; from: unknown; to: unknown }[] }
export type BacktestResult = z.input<typeof Bt.BacktestResult>
export interface BacktestJob {
  job_id: string; status: 'running' | 'done' | 'cancelled' | 'failed'; by: string
  window: { from: string; to: string }; baseline_hash: string; candidate_hash: string
  progress: { events_done: number; events_total: number }
  started_at: string; finished_at?: string; error?: string; result?: BacktestResult
}
