import { randomUUID } from 'node:crypto'
import type { Principal } from '../auth/principal.ts'
import { FundwatchError } from '../errors.ts'
import type { Store } from '../store/store.ts'
import { chTime, fromChTime } from '../util/time.ts'

/** A parameterised SQL predicate. */
export interface Sql { sql: string; params: Record<string, unknown> }

/** What an entry is about: evidence behind an alert or a case, or a refused record (its raw bytes, masked). */
export const ACCESS_OBJECTS = ['alert', 'case', 'dead_letter'] as const
export type AccessObject = (typeof ACCESS_OBJECTS)[number]
type Access = { action: 'view' | 'export'; object_type: AccessObject; object_id: string; purpose: string; revealed: boolean }

export interface AccessEntry {
  access_id: string
  at: string
  user_id: string
  user_name: string
  role: string
  action: 'view' | 'export'
  object_type: AccessObject
  object_id: string
  purpose: string
  revealed: boolean
}

/**
 * Every view or export of evidence (claim lines, visits, settlements behind an
 * alert or a case): who, which object, when, the purpose they stated, and
 * whether personal data was shown unmasked. Written before the evidence is
 * returned, so a failed write means no evidence. Dead letters viewed or
 * exported through the API are entered the same way (object_type
 * 'dead_letter'), one entry per record.
 */
export class AccessLog {
  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  async record(by: Principal | { id: string; name: string; role: string }, e: Access): Promise<string> {
    const [id] = await this.recordMany(by, [e])
    return id!
  }

  /** Several entries in one insert (an export of many objects): all of them are written, or none. */
  async recordMany(by: Principal | { id: string; name: string; role: string }, entries: readonly Access[]): Promise<string[]> {
    if (!entries.length) return []
    const at = chTime(this.now())
    const rows = entries.map((e) => ({ access_id: randomUUID(), at, user_id: by.id, user_name: by.name, role: by.role, ...e }))
    await this.store.insert('evidence_access_log', rows)
    return rows.map((r) => r.access_id)
  }

  /**
   * Newest first. `scope` holds the caller's scope as predicates over the
   * alerts table (admdvs, fixmedins_code) and the cases table (see
   * CaseService.scopeSql): an entry is listed only when the caller can see the
   * object it is about (a dead letter's entries are then left out: which
   * institution a refused record belongs to is the record's own claim, so
   * only an unscoped caller sees who looked at them). Without it, every entry.
   */
  async list(q: { limit: number; cursor?: string; object_id?: string; user_id?: string; scope?: { alerts: Sql; cases: Sql } }): Promise<{ entries: AccessEntry[]; next?: string }> {
    const where: string[] = []
    const params: Record<string, unknown> = { limit: q.limit + 1 }
    const log = this.store.t('evidence_access_log')
    if (q.scope && (q.scope.alerts.sql !== '1' || q.scope.cases.sql !== '1')) {
      // The alert ids are narrowed to those in the log first, so the alerts
      // table is read by its primary key (alert_id) rather than scanned.
      where.push(`((object_type = 'alert' AND object_id IN (SELECT alert_id FROM ${this.store.t('alerts')}
          WHERE alert_id IN (SELECT object_id FROM ${log} WHERE object_type = 'alert') AND ${q.scope.alerts.sql}))
        OR (object_type = 'case' AND object_id IN (SELECT case_id FROM ${this.store.t('cases')} FINAL WHERE ${q.scope.cases.sql})))`)
      Object.assign(params, q.scope.alerts.params, q.scope.cases.params)
    }
    if (q.cursor) {
      const [at, id] = Buffer.from(q.cursor, 'base64url').toString('utf8').split('|')
      if (!at || !id || !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(at) || !/^[0-9a-f-]{36}$/.test(id)) throw new FundwatchError('BAD_REQUEST', 'invalid cursor')
      where.push(`(at, access_id) < ({c_at:DateTime64(3,'UTC')}, {c_id:String})`)
      Object.assign(params, { c_at: at, c_id: id })
    }
    if (q.object_id) {
      where.push('object_id = {object_id:String}')
      params.object_id = q.object_id
    }
    if (q.user_id) {
      where.push('user_id = {user_id:String}')
      params.user_id = q.user_id
    }
    const rows = await this.store.query<Record<string, unknown>>(
      `SELECT * FROM ${log} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY at DESC, access_id DESC LIMIT {limit:UInt32}`, params)
    const page = rows.slice(0, q.limit)
    const last = page.at(-1)
    return {
      entries: page.map((r) => ({
        access_id: String(r.access_id), at: new Date(fromChTime(String(r.at))).toISOString(), user_id: String(r.user_id), user_name: String(r.user_name),
        role: String(r.role), action: r.action === 'export' ? 'export' : 'view', object_type: ACCESS_OBJECTS.find((o) => o === r.object_type) ?? 'alert',
        object_id: String(r.object_id), purpose: String(r.purpose), revealed: Boolean(r.revealed),
      })),
      next: rows.length > q.limit && last ? Buffer.from(`${String(last.at)}|${String(last.access_id)}`).toString('base64url') : undefined,
    }
  }
}
