import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { Money } from '../../schemas/common.ts'
import type { Principal } from '../auth/principal.ts'
import { FundwatchError } from '../errors.ts'
import type { Store } from '../store/store.ts'
import { chTime, fromChTime } from '../util/time.ts'
import type { ReviewConfig } from './config.ts'
import { newOverdueBefore, stepDeadline } from './deadlines.ts'
import { Status, checkTransition, isOpen, type TransitionRequest } from './workflow.ts'

export const Decision = z.object({
  recovered_amount: Money.describe('追回金额: the fund payment to recover'),
  penalty_amount: Money.default('0.00').describe('罚款 / 违约金'),
  measures: z.string().max(500).default('').describe('Other measures, e.g. 暂停医保协议'),
}).strict()
export type Decision = z.infer<typeof Decision>

/** What the workflow needs to know about an alert (denormalised into every action for stats and scope). */
export interface AlertMeta {
  alert_id: string
  detector_id: string
  fixmedins_code: string
  admdvs: string
  amount_at_risk: string
  /** Epoch ms. */
  detected_at: number
}

export interface StatusRow {
  alert_id: string
  status: Status
  assignee: string
  entered_at: number
  due_at: number | null
  recovered_amount: string
  penalty_amount: string
  measures: string
  dismiss_reason: string
  updated_by: string
  updated_at: number
  action_id: string
  version: number
}

export interface Workflow {
  status: Status
  assignee: string | null
  due_at: string | null
  overdue: boolean
  entered_at: string
  version: number
  updated_by: string | null
  decision: Decision | null
  dismiss_reason: string | null
}

export interface Action {
  action_id: string
  alert_id: string
  version: number
  kind: 'transition' | 'assign'
  from: Status
  to: Status | null
  reason: string
  assignee: string | null
  decision: Decision | null
  by: string
  by_name: string
  role: string
  at: string
}

export interface TransitionInput extends TransitionRequest {
  version: number
  assignee?: string | null
}

const iso = (ms: number) => new Date(ms).toISOString()
const money = (v: unknown) => Number(v).toFixed(2)

/**
 * The review workflow over two tables: alert_actions (append-only, the record)
 * and alert_status (latest state, fed from the actions by a materialized view).
 * Detection content in `alerts` is never touched, so a replayed alert keeps its
 * review. Writes are optimistic: a change names the version it was based on.
 */
export class ReviewService {
  /** Serialises changes to one alert within this process; other replicas are held off by insert deduplication. */
  private locks = new Map<string, Promise<unknown>>()

  constructor(
    private readonly store: Store,
    readonly config: ReviewConfig,
    private readonly now: () => number = Date.now,
  ) {}

  async states(ids: readonly string[]): Promise<Map<string, StatusRow>> {
    const out = new Map<string, StatusRow>()
    if (!ids.length) return out
    const rows = await this.store.query<Record<string, unknown>>(
      `SELECT * FROM ${this.store.t('alert_status')} FINAL WHERE alert_id IN {ids:Array(String)}`, { ids: [...ids] }, this.store.consistency.read)
    for (const r of rows) out.set(String(r.alert_id), statusFromRow(r))
    return out
  }

  /** The workflow as the API shows it; deadlines and overdue are computed now, not stored as flags. */
  workflow(alert: Pick<AlertMeta, 'detected_at'>, row: StatusRow | undefined): Workflow {
    const now = this.now()
    if (!row) {
      const due = stepDeadline('new', alert.detected_at, this.config)
      return { status: 'new', assignee: null, due_at: iso(due), overdue: due < now, entered_at: iso(alert.detected_at), version: 0, updated_by: null, decision: null, dismiss_reason: null }
    }
    return {
      status: row.status,
      assignee: row.assignee || null,
      due_at: row.due_at === null ? null : iso(row.due_at),
      overdue: isOpen(row.status) && row.due_at !== null && row.due_at < now,
      entered_at: iso(row.entered_at),
      version: row.version,
      updated_by: row.updated_by || null,
      decision: row.status === 'decided' ? { recovered_amount: row.recovered_amount, penalty_amount: row.penalty_amount, measures: row.measures } : null,
      dismiss_reason: row.status === 'dismissed' ? row.dismiss_reason : null,
    }
  }

  /** For the feed's overdue filter: untouched alerts detected before this are overdue. */
  newOverdueBefore(): number {
    return newOverdueBefore(this.now(), this.config)
  }

  async history(alertId: string): Promise<Action[]> {
    const rows = await this.store.query<Record<string, unknown>>(
      `SELECT * FROM ${this.store.t('alert_actions')} WHERE alert_id = {id:String} ORDER BY version`, { id: alertId }, this.store.consistency.read)
    return rows.map(actionFromRow)
  }

  async histories(ids: readonly string[]): Promise<Action[]> {
    if (!ids.length) return []
    const rows = await this.store.query<Record<string, unknown>>(
      `SELECT * FROM ${this.store.t('alert_actions')} WHERE alert_id IN {ids:Array(String)} ORDER BY at, alert_id, version`, { ids: [...ids] }, this.store.consistency.read)
    return rows.map(actionFromRow)
  }

  /**
   * Moves an alert one step. Refused (409 TRANSITION_REFUSED) when the step is
   * not in the process, 403 when the role may not take it, 409 CONFLICT when
   * the alert moved since `version`. The caller has already checked scope and
   * that the assignee may work the alert.
   */
  transition(by: Principal, alert: AlertMeta, input: TransitionInput): Promise<{ workflow: Workflow; action: Action }> {
    return this.serial(alert.alert_id, async () => {
      const current = (await this.states([alert.alert_id])).get(alert.alert_id)
      const from: Status = current?.status ?? 'new'
      // A stale view first: whether the step is allowed is judged against the state the caller saw.
      if ((current?.version ?? 0) !== input.version) throw conflict(current?.version ?? 0, input.version)
      checkTransition(from, input, by.role)
      const decision = input.to === 'decided' ? Decision.parse(input.decision) : null
      const now = this.now()
      const to = input.to
      const due = isOpen(to) ? stepDeadline(to, now, this.config) : null
      const assignee = input.assignee === undefined ? (current?.assignee ?? '') : (input.assignee ?? '')
      return this.write(by, alert, {
        kind: 'transition', from, to, version: input.version + 1, reason: (input.reason ?? '').trim(), assignee,
        entered_at: now, due_at: due, decision, dismiss_reason: to === 'dismissed' ? (input.reason ?? '').trim() : '',
      })
    })
  }

  /** Changes the owner of the current step without moving it (its deadline stays). */
  assign(by: Principal, alert: AlertMeta, input: { version: number; assignee: string | null }): Promise<{ workflow: Workflow; action: Action }> {
    return this.serial(alert.alert_id, async () => {
      const current = (await this.states([alert.alert_id])).get(alert.alert_id)
      if ((current?.version ?? 0) !== input.version) throw conflict(current?.version ?? 0, input.version)
      const status = current?.status ?? 'new'
      if (!isOpen(status)) throw new FundwatchError('TRANSITION_REFUSED', `a ${status} alert has no step to assign; reopen it first`)
      const entered = current?.entered_at ?? alert.detected_at
      return this.write(by, alert, {
        kind: 'assign', from: status, to: status, version: input.version + 1, reason: '', assignee: input.assignee ?? '',
        entered_at: entered, due_at: current ? current.due_at : stepDeadline('new', alert.detected_at, this.config),
        decision: null, dismiss_reason: current?.dismiss_reason ?? '',
      })
    })
  }

  private async write(by: Principal, alert: AlertMeta, a: {
    kind: 'transition' | 'assign'; from: Status; to: Status; version: number; reason: string; assignee: string
    entered_at: number; due_at: number | null; decision: Decision | null; dismiss_reason: string
  }): Promise<{ workflow: Workflow; action: Action }> {
    const action_id = randomUUID()
    const row = {
      action_id, alert_id: alert.alert_id, version: a.version, kind: a.kind, from_status: a.from, status: a.to, reason: a.reason,
      assignee: a.assignee, entered_at: chTime(a.entered_at), due_at: a.due_at === null ? null : chTime(a.due_at),
      recovered_amount: a.decision?.recovered_amount ?? '0.00', penalty_amount: a.decision?.penalty_amount ?? '0.00', measures: a.decision?.measures ?? '',
      dismiss_reason: a.dismiss_reason, detector_id: alert.detector_id, fixmedins_code: alert.fixmedins_code, admdvs: alert.admdvs,
      amount_at_risk: alert.amount_at_risk, by_user: by.id, by_name: by.name, role: by.role, at: chTime(this.now()),
    }
    try {
      // Deduplicated on (alert, version): of two changes based on the same
      // version, ClickHouse keeps the first block and silently drops the second
      // (and the view never sees it), so the loser finds another action_id below.
      await this.store.insert('alert_actions', [row], { ...this.store.consistency.write, insert_deduplication_token: `${alert.alert_id}:${a.version}`, insert_deduplicate: 1, deduplicate_blocks_in_dependent_materialized_views: 1 })
    } catch (cause) {
      throw new FundwatchError('STORE_INSERT_FAILED', `recording the review step failed: ${(cause as Error).message}`, { cause })
    }
    const won = await this.store.query<{ action_id: string }>(
      `SELECT action_id FROM ${this.store.t('alert_actions')} WHERE alert_id = {id:String} AND version = {v:UInt32}`, { id: alert.alert_id, v: a.version }, this.store.consistency.read)
    if (won.length !== 1 || won[0]!.action_id !== action_id) throw conflict(a.version, a.version - 1)
    const status = statusFromRow({ ...row, updated_by: by.id, updated_at: row.at })
    // Two racing inserts reach the view in either order; if the loser's block got
    // there first, the winner writes its state again (same version, inserted
    // later, so it is the one ReplacingMergeTree keeps).
    const seen = await this.store.query<{ action_id: string }>(
      `SELECT action_id FROM ${this.store.t('alert_status')} FINAL WHERE alert_id = {id:String}`, { id: alert.alert_id }, this.store.consistency.read)
    if (seen[0]?.action_id !== action_id) {
      await this.store.insert('alert_status', [{
        alert_id: row.alert_id, status: row.status, assignee: row.assignee, entered_at: row.entered_at, due_at: row.due_at,
        recovered_amount: row.recovered_amount, penalty_amount: row.penalty_amount, measures: row.measures, dismiss_reason: row.dismiss_reason,
        detector_id: row.detector_id, fixmedins_code: row.fixmedins_code, admdvs: row.admdvs, amount_at_risk: row.amount_at_risk,
        updated_by: by.id, updated_at: row.at, action_id, version: row.version,
      }], this.store.consistency.write)
    }
    return { workflow: this.workflow(alert, status), action: actionFromRow(row) }
  }

  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.catch(() => undefined)
    this.locks.set(key, tail)
    void tail.then(() => { if (this.locks.get(key) === tail) this.locks.delete(key) })
    return run
  }
}

function conflict(current: number, based: number): FundwatchError {
  return new FundwatchError('CONFLICT', `the alert changed since version ${based} (now ${current}); reload and try again`)
}

const num = (v: unknown) => (typeof v === 'number' ? v : fromChTime(String(v)))

function statusFromRow(r: Record<string, unknown>): StatusRow {
  return {
    alert_id: String(r.alert_id), status: Status.parse(r.status), assignee: String(r.assignee ?? ''),
    entered_at: num(r.entered_at), due_at: r.due_at === null || r.due_at === undefined ? null : num(r.due_at),
    recovered_amount: money(r.recovered_amount), penalty_amount: money(r.penalty_amount), measures: String(r.measures ?? ''),
    dismiss_reason: String(r.dismiss_reason ?? ''), updated_by: String(r.updated_by ?? ''), updated_at: num(r.updated_at),
    action_id: String(r.action_id), version: Number(r.version),
  }
}

function actionFromRow(r: Record<string, unknown>): Action {
  const to = Status.parse(r.status)
  return {
    action_id: String(r.action_id), alert_id: String(r.alert_id), version: Number(r.version), kind: r.kind === 'assign' ? 'assign' : 'transition',
    from: Status.parse(r.from_status), to: r.kind === 'assign' ? null : to, reason: String(r.reason ?? ''), assignee: String(r.assignee ?? '') || null,
    decision: r.kind !== 'assign' && to === 'decided' ? { recovered_amount: money(r.recovered_amount), penalty_amount: money(r.penalty_amount), measures: String(r.measures ?? '') } : null,
    by: String(r.by_user), by_name: String(r.by_name), role: String(r.role), at: new Date(num(r.at)).toISOString(),
  }
}
