import { randomBytes, randomUUID } from 'node:crypto'
import { z } from 'zod'
import { type Placement, type Principal, unscoped } from '../auth/principal.ts'
import { FundwatchError } from '../errors.ts'
import type { StoredAlert } from '../store/alerts.ts'
import type { Store } from '../store/store.ts'
import { chTime, cnDate, fromChTime } from '../util/time.ts'

export const CaseSubjectInput = z.object({
  kind: z.enum(['institution', 'doctor', 'person']).describe('Who the case is against'),
  fixmedins_code: z.string().max(20).optional(),
  doctor: z.string().max(40).optional(),
  psn_no: z.string().max(40).optional(),
}).strict()

export const NewCase = z.object({
  title: z.string().trim().min(2).max(200),
  subject: CaseSubjectInput,
  alert_ids: z.array(z.string().regex(/^[0-9a-f]{32}$/)).min(1).max(500),
  note: z.string().max(5000).default(''),
}).strict()
export type NewCase = z.infer<typeof NewCase>

export const CasePatch = z.object({
  version: z.number().int().min(1),
  title: z.string().trim().min(2).max(200).optional(),
  note: z.string().max(5000).optional(),
  status: z.enum(['open', 'closed']).optional(),
  assignee: z.string().max(40).nullable().optional(),
  add_alert_ids: z.array(z.string().regex(/^[0-9a-f]{32}$/)).max(500).optional(),
  remove_alert_ids: z.array(z.string().regex(/^[0-9a-f]{32}$/)).max(500).optional(),
}).strict()
export type CasePatch = z.infer<typeof CasePatch>

export interface CaseRec {
  case_id: string
  title: string
  subject: { kind: 'institution' | 'doctor' | 'person'; fixmedins_code: string; doctor: string; psn_no: string }
  status: 'open' | 'closed'
  alert_ids: string[]
  /** Aligned with admdvs: the (institution, region) of each place the case's alerts come from. */
  fixmedins_codes: string[]
  admdvs: string[]
  assignee: string | null
  note: string
  created_by: string
  created_at: string
  updated_at: string
  version: number
}

export interface CaseEvent {
  at: string
  what: string
  detail: string
  by_name: string
}

const iso = (v: unknown) => new Date(fromChTime(String(v))).toISOString()

function fromRow(r: Record<string, unknown>): CaseRec {
  return {
    case_id: String(r.case_id), title: String(r.title),
    subject: { kind: r.subject_kind as CaseRec['subject']['kind'], fixmedins_code: String(r.subject_fixmedins_code), doctor: String(r.subject_doctor), psn_no: String(r.subject_psn_no) },
    status: r.status === 'closed' ? 'closed' : 'open', alert_ids: r.alert_ids as string[], fixmedins_codes: r.fixmedins_codes as string[], admdvs: r.admdvs as string[],
    assignee: String(r.assignee) || null, note: String(r.note), created_by: String(r.created_by), created_at: iso(r.created_at), updated_at: iso(r.updated_at ?? r.at),
    version: Number(r.version),
  }
}

/** The (institution, region) pairs of a set of alerts, deduplicated and aligned. */
function placements(alerts: readonly StoredAlert[]): { fixmedins_codes: string[]; admdvs: string[] } {
  const seen = new Map<string, string>()
  for (const a of alerts) seen.set(a.alert.subject.fixmedins_code, a.admdvs)
  const codes = [...seen.keys()].sort()
  return { fixmedins_codes: codes, admdvs: codes.map((c) => seen.get(c)!) }
}

/**
 * Cases group alerts about one institution, doctor or person for an
 * inspector. Stored like the alert workflow: case_actions is the append-only
 * record (deduplicated on case_id:version for optimistic concurrency), the
 * cases table the latest state. A case is visible to a caller only when every
 * place its alerts come from is in the caller's scope.
 */
export class CaseService {
  private locks = new Map<string, Promise<unknown>>()

  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  /** Predicate over the cases table: every (institution, region) of the case lies within the caller's scope. */
  scopeSql(p: Principal): { sql: string; params: Record<string, unknown> } {
    if (unscoped(p)) return { sql: '1', params: {} }
    return {
      sql: `arrayAll((c, a) -> (arrayExists(x -> startsWith(a, x), {cs_admdvs:Array(String)}) OR has({cs_codes:Array(String)}, c)), fixmedins_codes, admdvs)`,
      params: { cs_admdvs: [...p.admdvs], cs_codes: [...p.fixmedins_codes] },
    }
  }

  async get(id: string): Promise<CaseRec | undefined> {
    const rows = await this.store.query<Record<string, unknown>>(`SELECT * FROM ${this.store.t('cases')} FINAL WHERE case_id = {id:String}`, { id }, this.store.consistency.read)
    return rows[0] ? fromRow(rows[0]) : undefined
  }

  async list(by: Principal, q: { limit: number; cursor?: string; status?: 'open' | 'closed' }): Promise<{ cases: CaseRec[]; next?: string }> {
    const scope = this.scopeSql(by)
    const where = [scope.sql]
    const params: Record<string, unknown> = { ...scope.params, limit: q.limit + 1 }
    if (q.status) {
      where.push('status = {status:String}')
      params.status = q.status
    }
    if (q.cursor) {
      const [at, id] = Buffer.from(q.cursor, 'base64url').toString('utf8').split('|')
      if (!at || !id || !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(at) || !/^C\d{8}-[0-9a-f]{8}$/.test(id)) throw new FundwatchError('BAD_REQUEST', 'invalid cursor')
      where.push(`(created_at, case_id) < ({c_at:DateTime64(3,'UTC')}, {c_id:String})`)
      Object.assign(params, { c_at: at, c_id: id })
    }
    const rows = await this.store.query<Record<string, unknown>>(
      `SELECT *, toString(created_at) AS created_at_raw FROM ${this.store.t('cases')} FINAL WHERE ${where.join(' AND ')} ORDER BY created_at DESC, case_id DESC LIMIT {limit:UInt32}`, params, this.store.consistency.read)
    const page = rows.slice(0, q.limit)
    const last = page.at(-1)
    return { cases: page.map(fromRow), next: rows.length > q.limit && last ? Buffer.from(`${String(last.created_at_raw)}|${String(last.case_id)}`).toString('base64url') : undefined }
  }

  async events(id: string): Promise<CaseEvent[]> {
    const rows = await this.store.query<Record<string, unknown>>(
      `SELECT at, what, detail, by_name FROM ${this.store.t('case_actions')} WHERE case_id = {id:String} ORDER BY version`, { id }, this.store.consistency.read)
    return rows.map((r) => ({ at: iso(r.at), what: String(r.what), detail: String(r.detail), by_name: String(r.by_name) }))
  }

  /** The caller has checked that every alert exists and is in their scope. */
  async create(by: Principal, input: NewCase, alerts: readonly StoredAlert[]): Promise<CaseRec> {
    const now = this.now()
    const case_id = `C${cnDate(now).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`
    const subject = {
      kind: input.subject.kind,
      fixmedins_code: input.subject.fixmedins_code ?? (input.subject.kind !== 'person' ? (alerts[0]?.alert.subject.fixmedins_code ?? '') : ''),
      doctor: input.subject.doctor ?? '',
      psn_no: input.subject.psn_no ?? '',
    }
    if (subject.kind === 'doctor' && !subject.doctor) throw new FundwatchError('BAD_REQUEST', 'a case against a doctor names the doctor')
    if (subject.kind === 'person' && !subject.psn_no) throw new FundwatchError('BAD_REQUEST', 'a case against a person names psn_no')
    const rec: CaseRec = {
      case_id, title: input.title, subject, status: 'open', alert_ids: [...new Set(input.alert_ids)], ...placements(alerts),
      assignee: by.id, note: input.note, created_by: by.id, created_at: new Date(now).toISOString(), updated_at: new Date(now).toISOString(), version: 1,
    }
    await this.write(by, rec, 'created', `${rec.alert_ids.length} alerts`)
    return rec
  }

  /**
   * `alertsAfter` are the case's alerts once the patch applies (checked for
   * scope by the caller). `assignable` refuses an assignee who could not see
   * the case as it will stand; it is asked whenever the assignee or the
   * places the case touches change.
   */
  update(by: Principal, current: CaseRec, patch: CasePatch, alertsAfter: (ids: string[]) => Promise<readonly StoredAlert[]>, assignable: (id: string, places: Placement[]) => Promise<void>): Promise<CaseRec> {
    return this.serial(current.case_id, async () => {
      const latest = (await this.get(current.case_id)) ?? current
      if (latest.version !== patch.version) throw new FundwatchError('CONFLICT', `the case changed since version ${patch.version} (now ${latest.version}); reload and try again`)
      const changes: string[] = []
      const next: CaseRec = { ...latest, version: latest.version + 1, updated_at: new Date(this.now()).toISOString() }
      if (patch.title !== undefined && patch.title !== latest.title) { next.title = patch.title; changes.push('title') }
      if (patch.note !== undefined && patch.note !== latest.note) { next.note = patch.note; changes.push('note') }
      if (patch.assignee !== undefined && (patch.assignee ?? null) !== latest.assignee) { next.assignee = patch.assignee ?? null; changes.push('assignee') }
      let what = 'updated'
      if (patch.status && patch.status !== latest.status) { next.status = patch.status; what = patch.status === 'closed' ? 'closed' : 'reopened' }
      if (patch.add_alert_ids?.length || patch.remove_alert_ids?.length) {
        const remove = new Set(patch.remove_alert_ids ?? [])
        const ids = [...new Set([...latest.alert_ids, ...(patch.add_alert_ids ?? [])])].filter((id) => !remove.has(id))
        if (!ids.length) throw new FundwatchError('BAD_REQUEST', 'a case keeps at least one alert; close it instead')
        const alerts = await alertsAfter(ids)
        Object.assign(next, { alert_ids: ids, ...placements(alerts) })
        if (patch.add_alert_ids?.length) changes.push(`+${patch.add_alert_ids.length} alerts`)
        if (patch.remove_alert_ids?.length) changes.push(`-${patch.remove_alert_ids.length} alerts`)
      }
      const moved = next.fixmedins_codes.join() !== latest.fixmedins_codes.join() || next.admdvs.join() !== latest.admdvs.join()
      if (next.assignee && (next.assignee !== latest.assignee || moved)) {
        await assignable(next.assignee, next.fixmedins_codes.map((fixmedins_code, i) => ({ fixmedins_code, admdvs: next.admdvs[i] ?? '' })))
      }
      await this.write(by, next, what, changes.join(', '))
      return next
    })
  }

  private async write(by: Principal, c: CaseRec, what: string, detail: string): Promise<void> {
    const action_id = randomUUID()
    const row = {
      action_id, case_id: c.case_id, version: c.version, what, detail, title: c.title, subject_kind: c.subject.kind,
      subject_fixmedins_code: c.subject.fixmedins_code, subject_doctor: c.subject.doctor, subject_psn_no: c.subject.psn_no, status: c.status,
      alert_ids: c.alert_ids, fixmedins_codes: c.fixmedins_codes, admdvs: c.admdvs, assignee: c.assignee ?? '', note: c.note,
      created_by: c.created_by, created_at: chTime(Date.parse(c.created_at)), by_user: by.id, by_name: by.name, role: by.role, at: chTime(Date.parse(c.updated_at)),
    }
    try {
      // See ReviewService.write: the first block for (case, version) wins across replicas.
      await this.store.insert('case_actions', [row], { ...this.store.consistency.write, insert_deduplication_token: `${c.case_id}:${c.version}`, insert_deduplicate: 1, deduplicate_blocks_in_dependent_materialized_views: 1 })
    } catch (cause) {
      throw new FundwatchError('STORE_INSERT_FAILED', `recording the case failed: ${(cause as Error).message}`, { cause })
    }
    const won = await this.store.query<{ action_id: string }>(
      `SELECT action_id FROM ${this.store.t('case_actions')} WHERE case_id = {id:String} AND version = {v:UInt32}`, { id: c.case_id, v: c.version }, this.store.consistency.read)
    if (won.length !== 1 || won[0]!.action_id !== action_id) throw new FundwatchError('CONFLICT', `the case changed since version ${c.version - 1}; reload and try again`)
    const seen = await this.store.query<{ action_id: string }>(`SELECT action_id FROM ${this.store.t('cases')} FINAL WHERE case_id = {id:String}`, { id: c.case_id }, this.store.consistency.read)
    if (seen[0]?.action_id !== action_id) {
      const { what: _w, detail: _d, by_user, by_name: _n, role: _r, at, ...state } = row
      await this.store.insert('cases', [{ ...state, updated_by: by_user, updated_at: at }], this.store.consistency.write)
    }
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
