import type { z } from 'zod'
import type { AnyEvent, EventType, Result, Severity, Stage, Text } from '../../schemas/index.ts'
import type { KnowledgeBase } from '../kb/knowledge-base.ts'
import type { PersonState, VisitState } from '../state/types.ts'
import type { Store } from '../store/store.ts'

/** 就医场景, as the rule base scopes rules (门急诊 / 住院 / 购药 …). */
export type Scenario = 'outpatient' | 'inpatient' | 'pharmacy' | 'chronic' | 'maternity' | 'remote'

/** What a streaming detector sees for one event, after enrichment. */
export interface DetectContext<E extends AnyEvent = AnyEvent> {
  event: E
  stage: Stage
  kb: KnowledgeBase
  /** The event's person, with this event already applied (absent for inventory events). */
  person?: PersonState
  /** The event's visit within `person`, when the event names one. */
  visit?: VisitState
  /** Epoch ms of the event (parsed event_time). */
  eventTime: number
}

/** What an audit (事后) detector sees: the store and a time window. */
export interface AuditContext {
  store: Store
  kb: KnowledgeBase
  /** Inclusive window start and exclusive end, epoch ms. */
  from: number
  to: number
}

/**
 * A finding is what a detector computes from facts; the engine turns it into an
 * alert (adds ids, detector version, parameter hash, stage, times). Severity and
 * result default to the detector's own and may be overridden by the rule base.
 */
export interface Finding {
  /** The facts it is about, e.g. `${mdtrt_id}/${feedetl_sn}`: the same facts give the same key (→ alert_id). */
  key: string
  subject: { fixmedins_code: string; psn_no?: string; doctor?: string; mdtrt_id?: string; setl_id?: string }
  refs: { mdtrt_ids?: string[]; feedetl_sns?: string[]; setl_ids?: string[]; event_ids?: string[] }
  /**
   * Integer fen (分): money is summed in integers, never in binary floating
   * point (src/util/money.ts). How it was computed is stated in the detector README.
   */
  amount_fen: number
  message: Text
  evidence: Record<string, unknown>
  /** Defaults to the detector's basis. */
  basis?: Text
  severity?: Severity
  result?: Result
  /** RFC 3339; defaults to the triggering event's event_time. */
  event_time?: string
  /**
   * What the pre-check may tell the institution that sent the draft when the
   * finding rests on another institution's records (docs/api.md, "Pre-check
   * disclosure"): what it needs to act, and no identifiers, names, times,
   * diagnoses or lines of another institution. Without one, a generic message
   * from the detector's title is sent.
   */
  notice?: Notice
}

export interface Notice {
  message: Text
  /** Facts safe to disclose: counts, limits, the kind of conflict. */
  evidence?: Record<string, unknown>
}

/**
 * What an evidence key is called in the console, and its enumerated values
 * (`rule: same_item_same_time` → 同一项目同一时间重复计费). `keyed`: the
 * object's own keys are data (item codes), not names to label.
 */
export interface EvidenceLabel extends Text {
  values?: Record<string, Text>
  keyed?: boolean
}
export type EvidenceLabels = Readonly<Record<string, EvidenceLabel>>

interface DetectorBase<P extends z.ZodObject> {
  id: string
  version: string
  title: Text
  /** DOMAIN.md pattern name, e.g. 分解住院. */
  pattern: Text
  description: Text
  stages: readonly Stage[]
  scenarios: readonly Scenario[]
  result: Result
  severity: Severity
  basis: Text
  /** Parameters: `.describe()` on each, defaults, `.strict()` — this is also the README's parameter table. */
  params: P
  /**
   * A zh/en label for every key its findings' evidence (and notices) can hold,
   * at any depth, and for their enumerated values (test/detect/evidence-labels.test.ts).
   */
  evidence: EvidenceLabels
}

export interface StreamDetector<P extends z.ZodObject = z.ZodObject> extends DetectorBase<P> {
  kind: 'stream'
  reactsTo: readonly EventType[]
  /** How many days of the person's history it reads; the state window is the maximum over enabled detectors. */
  lookbackDays?: (params: z.infer<P>) => number
  detect(ctx: DetectContext, params: z.infer<P>): Finding[]
}

export interface AuditDetector<P extends z.ZodObject = z.ZodObject> extends DetectorBase<P> {
  kind: 'audit'
  audit(ctx: AuditContext, params: z.infer<P>): Promise<Finding[]>
}

export type Detector<P extends z.ZodObject = z.ZodObject> = StreamDetector<P> | AuditDetector<P>

/** Identity function that keeps the parameter type flowing into detect/audit. */
export function defineDetector<P extends z.ZodObject>(d: StreamDetector<P>): StreamDetector<P>
export function defineDetector<P extends z.ZodObject>(d: AuditDetector<P>): AuditDetector<P>
export function defineDetector<P extends z.ZodObject>(d: Detector<P>): Detector<P> {
  if (!/^[a-z][a-z0-9-]{2,40}$/.test(d.id)) throw new Error(`detector id "${d.id}" must be kebab-case`)
  if (!/^\d+\.\d+\.\d+$/.test(d.version)) throw new Error(`detector ${d.id}: version "${d.version}" must be semver`)
  return Object.freeze(d)
}
