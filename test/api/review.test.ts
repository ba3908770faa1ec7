import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildServer } from '../../src/api/server.ts'
import { reviewConfig } from '../../src/review/config.ts'
import { ReviewService } from '../../src/review/service.ts'
import type { Principal } from '../../src/auth/principal.ts'
import { INST_A, INST_B, eventsFor, fixture, people, type Fixture } from './fixture.ts'

let fx: Fixture
let pool: string[] = []
const take = () => pool.shift()!

interface Wf { status: string; version: number; assignee: string | null; assignee_name: string | null; due_at: string | null; overdue: boolean; decision: unknown; dismiss_reason: string | null }
const step = async (who: Parameters<Fixture['call']>[0], id: string, body: Record<string, unknown>) => fx.call(who, 'POST', `/api/v1/alerts/${id}/transitions`, body)
const wf = async (id: string): Promise<Wf> => (await fx.call('inspector', 'GET', `/api/v1/alerts/${id}`)).json().alert.workflow

beforeAll(async () => {
  fx = await fixture()
  await fx.ingest([...people(8, INST_A).flatMap((p) => eventsFor(p, 2, 'a')), ...people(2, INST_B, 100).flatMap((p) => eventsFor(p, 2, 'b'))])
  pool = (await fx.app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE admdvs = '370702' ORDER BY alert_id`)).map((r) => r.alert_id)
})
afterAll(async () => fx?.close())

describe('the handling process over HTTP', () => {
  it('walks an alert through 初审 → 复审 → 申诉 → 调查核实 → 违规处理 and records every step', async () => {
    const id = take()
    expect((await step('monitor', id, { to: 'first_review', version: 0, assignee: fx.ids.monitor })).json().workflow).toMatchObject({ status: 'first_review', version: 1, assignee: fx.ids.monitor, assignee_name: '监控员甲' })
    expect((await step('monitor', id, { to: 'second_review', version: 1, reason: '初审确认重复计费' })).statusCode).toBe(200)
    const refused = await step('monitor', id, { to: 'appeal', version: 2 })
    expect([refused.statusCode, refused.json().error]).toEqual([403, 'FORBIDDEN'])
    expect((await step('inspector', id, { to: 'appeal', version: 2, assignee: fx.ids.inspector })).statusCode).toBe(200)
    expect((await step('inspector', id, { to: 'investigation', version: 3, reason: '申诉理由不成立' })).statusCode).toBe(200)
    const decided = await step('inspector', id, { to: 'decided', version: 4, reason: '现场核查属实', decision: { recovered_amount: '71.00', penalty_amount: '142.00', measures: '约谈负责人' } })
    expect(decided.json().workflow).toMatchObject({ status: 'decided', version: 5, due_at: null, overdue: false, decision: { recovered_amount: '71.00', penalty_amount: '142.00', measures: '约谈负责人' } })

    const detail = (await fx.call('monitor', 'GET', `/api/v1/alerts/${id}`)).json()
    expect(detail.alert.workflow.status).toBe('decided')
    const history = detail.history as { version: number; from: string; to: string; by_name: string; role: string; reason: string }[]
    expect(history.map((h) => [h.version, h.from, h.to])).toEqual([
      [1, 'new', 'first_review'], [2, 'first_review', 'second_review'], [3, 'second_review', 'appeal'], [4, 'appeal', 'investigation'], [5, 'investigation', 'decided'],
    ])
    expect(history.map((h) => h.by_name)).toEqual(['监控员甲', '监控员甲', '稽核员甲', '稽核员甲', '稽核员甲'])
    expect(history[1]!.reason).toBe('初审确认重复计费')
    // A decided alert is closed: no step can be taken but a reopen.
    expect((await step('inspector', id, { to: 'investigation', version: 5 })).json().error).toBe('TRANSITION_REFUSED')
  })

  it('refuses steps outside the process and requests missing what the step needs', async () => {
    const id = take()
    const r = await step('inspector', id, { to: 'decided', version: 0, decision: { recovered_amount: '1.00' } })
    expect([r.statusCode, r.json().error]).toEqual([409, 'TRANSITION_REFUSED'])
    expect((await step('monitor', id, { to: 'dismissed', version: 0 })).json().error).toBe('BAD_REQUEST')
    expect((await step('monitor', id, { to: 'first_review', version: 0, assignee: 'u_0000000000000000' })).statusCode).toBe(400)
    // A reviewer who cannot see the alert's region cannot own it.
    expect((await step('monitor', id, { to: 'first_review', version: 0, assignee: fx.ids.monitorB })).statusCode).toBe(400)
    // A precheck system is not a reviewer either.
    expect((await step('monitor', id, { to: 'first_review', version: 0, assignee: fx.ids.precheck })).statusCode).toBe(400)
    expect((await step('monitor', id, { to: 'archived', version: 0 })).statusCode).toBe(400)
    await step('inspector', id, { to: 'first_review', version: 0 })
    await step('inspector', id, { to: 'second_review', version: 1 })
    expect((await step('inspector', id, { to: 'decided', version: 2 })).json().error).toBe('BAD_REQUEST')
    expect((await step('inspector', id, { to: 'decided', version: 2, decision: { recovered_amount: 'lots' } })).json().error).toBe('BAD_REQUEST')
    // Nothing refused was recorded.
    expect((await wf(id)).version).toBe(2)
  })

  it('dismisses with a reason and reopens into 初审 (inspectors only)', async () => {
    const id = take()
    const d = await step('monitor', id, { to: 'dismissed', version: 0, reason: '同一服务时间两次计费为两个疗程，合理' })
    expect(d.json().workflow).toMatchObject({ status: 'dismissed', dismiss_reason: '同一服务时间两次计费为两个疗程，合理', due_at: null, overdue: false })
    expect((await step('monitor', id, { to: 'first_review', version: 1, reason: '重新审核' })).statusCode).toBe(403)
    expect((await step('inspector', id, { to: 'first_review', version: 1 })).json().error).toBe('BAD_REQUEST')
    const re = await step('inspector', id, { to: 'first_review', version: 1, reason: '收到举报线索，重新审核' })
    expect(re.json().workflow).toMatchObject({ status: 'first_review', version: 2, dismiss_reason: null })
    expect(re.json().workflow.due_at).toBeTypeOf('string')
  })

  it('assigns the current step without moving it, and the feed filters by assignee', async () => {
    const id = take()
    const before = await wf(id)
    const a = await fx.call('monitor', 'POST', `/api/v1/alerts/${id}/assign`, { assignee: fx.ids.inspector, version: 0 })
    expect(a.json().workflow).toMatchObject({ status: 'new', version: 1, assignee: fx.ids.inspector, assignee_name: '稽核员甲', due_at: before.due_at })
    const mine = (await fx.call('inspector', 'GET', '/api/v1/alerts?assignee=me&limit=500')).json().alerts as { alert_id: string }[]
    expect(mine.map((x) => x.alert_id)).toContain(id)
    const unassigned = (await fx.call('inspector', 'GET', '/api/v1/alerts?assignee=none&limit=500')).json().alerts as { alert_id: string }[]
    expect(unassigned.map((x) => x.alert_id)).not.toContain(id)
    expect(unassigned.length).toBeGreaterThan(0)
    // Still `new`: the status filter counts assigned-but-untouched alerts as new.
    const fresh = (await fx.call('inspector', 'GET', '/api/v1/alerts?status=new&limit=500')).json().alerts as { alert_id: string }[]
    expect(fresh.map((x) => x.alert_id)).toContain(id)
    await step('monitor', id, { to: 'dismissed', version: 1, reason: '误报' })
    expect((await fx.call('monitor', 'POST', `/api/v1/alerts/${id}/assign`, { assignee: null, version: 2 })).json().error).toBe('TRANSITION_REFUSED')
  })
})

describe('optimistic concurrency', () => {
  it('answers 409 to a change based on a stale version', async () => {
    const id = take()
    await step('monitor', id, { to: 'first_review', version: 0 })
    const stale = await step('inspector', id, { to: 'dismissed', version: 0, reason: '重复' })
    expect([stale.statusCode, stale.json().error]).toEqual([409, 'CONFLICT'])
    // The same step sent again from a stale screen (a colleague was quicker): not allowed from where the alert
    // is now, but the answer is the stale view — reload — not a refusal of a step the caller never saw.
    const again = await step('monitorA', id, { to: 'first_review', version: 0 })
    expect([again.statusCode, again.json().error]).toEqual([409, 'CONFLICT'])
  })

  it('a review step’s deduplication token holds for its own insert only: it does not stay on the store’s session and drop a later insert', async () => {
    const id = take()
    expect((await step('monitor', id, { to: 'first_review', version: 0 })).statusCode).toBe(200)
    // Embedded chDB keeps a setting sent with a statement for the whole session (the client sends SET);
    // a token left there would make the next insert of the same rows a "duplicate", silently dropped.
    expect(await fx.app.store.query(`SELECT getSetting('insert_deduplication_token') AS t`)).toEqual([{ t: '' }])
    const s = fx.app.store
    await s.command(`CREATE TABLE IF NOT EXISTS ${s.t('leak_probe')} (k String) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100`)
    await s.insert('leak_probe', [{ k: 'a' }])
    await s.insert('leak_probe', [{ k: 'a' }])
    expect(await s.query(`SELECT toString(count()) AS n FROM ${s.t('leak_probe')}`)).toEqual([{ n: '2' }])
  })

  it('lets exactly one of several simultaneous changes through', async () => {
    const id = take()
    const res = await Promise.all(['monitor', 'monitorA', 'inspector', 'inspectorA', 'admin'].map((w) => step(w as 'monitor', id, { to: 'first_review', version: 0, assignee: fx.ids[w as 'monitor'] })))
    expect(res.map((r) => r.statusCode).sort()).toEqual([200, 409, 409, 409, 409])
    const winner = res.find((r) => r.statusCode === 200)!.json().workflow.assignee
    expect((await wf(id)).assignee).toBe(winner)
    expect((await fx.call('monitor', 'GET', `/api/v1/alerts/${id}`)).json().history).toHaveLength(1)
  })

  it('holds across API replicas (two services, no shared lock): the first insert wins', async () => {
    const id = take()
    const [a] = (await fx.app.store.query<Record<string, unknown>>(`SELECT * FROM ${fx.app.store.t('alerts')} FINAL WHERE alert_id = {id:String}`, { id }))
    const meta = { alert_id: id, detector_id: String(a!.detector_id), fixmedins_code: String(a!.fixmedins_code), admdvs: String(a!.admdvs), amount_at_risk: '1.00', detected_at: fx.clock.ms }
    const cfg = reviewConfig({})
    const replicas = [new ReviewService(fx.app.store, cfg, fx.clock.now), new ReviewService(fx.app.store, cfg, fx.clock.now)]
    const by = (id: string, name: string): Principal => ({ id, name, role: 'inspector', admdvs: [], fixmedins_codes: [] })
    const race = async (version: number, req: Parameters<ReviewService['transition']>[2]) => {
      const outcomes = await Promise.allSettled(replicas.map((r, i) => r.transition(by(`u_replica${i}`, `replica ${i}`), meta, req)))
      expect(outcomes.filter((o) => o.status === 'fulfilled'), `version ${version}`).toHaveLength(1)
      expect((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason.code).toBe('CONFLICT')
      const rows = await fx.app.store.query<{ by_user: string }>(`SELECT by_user FROM ${fx.app.store.t('alert_actions')} WHERE alert_id = {id:String} AND version = {v:UInt32}`, { id, v: version + 1 })
      expect(rows).toHaveLength(1)
      // The latest state is the winner's, not the deduplicated loser's.
      const status = await fx.app.store.query<{ version: number; updated_by: string }>(`SELECT version, updated_by FROM ${fx.app.store.t('alert_status')} FINAL WHERE alert_id = {id:String}`, { id })
      expect(status).toEqual([{ version: version + 1, updated_by: rows[0]!.by_user }])
    }
    await race(0, { to: 'first_review', version: 0 })
    for (let v = 1; v < 12; v += 2) {
      await race(v, { to: 'dismissed', version: v, reason: `race at ${v}` })
      await race(v + 1, { to: 'first_review', version: v + 1, reason: `reopen at ${v + 1}` })
    }
  })
})

describe('replays', () => {
  it('never reset an alert\'s review: the workflow lives apart from the detection', async () => {
    const p = people(1, INST_A, 500)[0]!
    await fx.ingest(eventsFor(p, 3, 'r'))
    const [row] = await fx.app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE psn_no = {p:String} ORDER BY alert_id LIMIT 1`, { p: p.psn_no })
    const id = row!.alert_id
    await step('monitor', id, { to: 'first_review', version: 0 })
    await step('monitor', id, { to: 'second_review', version: 1 })
    await fx.ingest(eventsFor(p, 3, 'r'))
    await fx.app.store.command(`OPTIMIZE TABLE ${fx.app.store.t('alerts')} FINAL`)
    expect(await wf(id)).toMatchObject({ status: 'second_review', version: 2 })
    const n = await fx.app.store.query<{ c: string }>(`SELECT count() c FROM ${fx.app.store.t('alerts')} WHERE alert_id = {id:String}`, { id })
    expect(Number(n[0]!.c)).toBe(1)
  })
})

describe('deadlines and overdue', () => {
  it('counts working days from detection and from each step, and the feed filters on it', async () => {
    // Detected Monday 2026-03-09 10:00 (China time).
    fx.clock.set('2026-03-09T10:00:00+08:00')
    const ps = people(2, INST_B, 600)
    await fx.ingest(ps.flatMap((p) => eventsFor(p, 9, 'd')))
    const ids = (await fx.app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE psn_no IN {p:Array(String)} ORDER BY alert_id`, { p: ps.map((p) => p.psn_no) })).map((r) => r.alert_id)
    expect(ids.length).toBeGreaterThanOrEqual(4)
    const [untouched, reviewed, dismissed] = ids as [string, string, string]
    // new: 2 working days → Wednesday 23:59:59.999 +08:00.
    expect(await wf(untouched)).toMatchObject({ status: 'new', due_at: '2026-03-11T15:59:59.999Z', overdue: false })
    const overdueIds = async (q: string) => ((await fx.call('monitorB', 'GET', `/api/v1/alerts?limit=500&${q}`)).json().alerts as { alert_id: string }[]).map((a) => a.alert_id)
    expect(await overdueIds('overdue=true')).not.toContain(untouched)

    // Thursday 09:00: the untouched alerts are past due.
    fx.clock.set('2026-03-12T09:00:00+08:00')
    expect((await wf(untouched)).overdue).toBe(true)
    expect(await overdueIds('overdue=true')).toEqual(expect.arrayContaining(ids))
    // Taking it into 初审 starts a 5-working-day clock: Thursday → next Thursday.
    const fr = await step('monitorB', reviewed, { to: 'first_review', version: 0 })
    expect(fr.json().workflow).toMatchObject({ due_at: '2026-03-19T15:59:59.999Z', overdue: false })
    await step('monitorB', dismissed, { to: 'dismissed', version: 0, reason: '误报' })
    expect(await overdueIds('overdue=true')).not.toContain(reviewed)
    expect(await overdueIds('overdue=false')).toEqual(expect.arrayContaining([reviewed, dismissed]))
    expect(await overdueIds('overdue=false')).not.toContain(untouched)

    // Two weeks later the 初审 is overdue too; a dismissed alert never is.
    fx.clock.set('2026-03-26T09:00:00+08:00')
    expect((await wf(reviewed)).overdue).toBe(true)
    expect((await wf(dismissed)).overdue).toBe(false)
    const od = await overdueIds('overdue=true')
    expect(od).toContain(reviewed)
    expect(od).not.toContain(dismissed)
    // The ranking counts them per institution.
    const rank = (await fx.call('monitorB', 'GET', '/api/v1/institutions/ranking')).json().institutions as { fixmedins_code: string; overdue: number }[]
    const expected = (await overdueIds('overdue=true&fixmedins_code=' + INST_B)).length
    expect(rank.find((r) => r.fixmedins_code === INST_B)?.overdue).toBe(expected)
  })

  it('takes per-step deadlines from configuration', async () => {
    fx.clock.set('2026-03-13T16:00:00+08:00') // Friday
    const server = await buildServer(fx.app, { webDir: false, now: fx.clock.now, review: { deadlines: { first_review: 1, new: 1 } } })
    const cfg = (await server.inject({ method: 'GET', url: '/api/v1/workflow', headers: { authorization: `Bearer ${fx.tokens.monitor}` } })).json()
    expect(cfg.statuses.find((s: { status: string }) => s.status === 'first_review').days).toBe(1)
    const id = take()
    const r = await server.inject({ method: 'POST', url: `/api/v1/alerts/${id}/transitions`, headers: { authorization: `Bearer ${fx.tokens.monitor}` }, payload: { to: 'first_review', version: 0 } })
    // Friday + 1 working day = Monday.
    expect(r.json().workflow.due_at).toBe('2026-03-16T15:59:59.999Z')
    await server.close()
  })
})
