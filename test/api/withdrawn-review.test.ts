import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Alert } from '../../schemas/index.ts'
import type { Principal } from '../../src/auth/principal.ts'
import { reviewConfig } from '../../src/review/config.ts'
import { ReviewService } from '../../src/review/service.ts'
import { listAlerts, type AlertQuery } from '../../src/store/alerts.ts'
import { alertRow } from '../../src/store/rows.ts'
import { feeReversed } from '../helpers/detect.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { INST_A, eventsFor, fixture, people, type Fixture } from './fixture.ts'

// An alert withdrawn while someone reviews it (docs/review.md, "Withdrawn and
// updated alerts"): the review record stays whole, the reviewer still finds it
// in the default feed and in "mine", and can close it.

interface Item { alert_id: string; status: string; revision: number; withdrawn_reason?: string; revision_event_id?: string; workflow: { status: string; version: number; assignee: string | null; due_at: string | null } }
interface Detail { alert: Item; history: { version: number; kind: string; from: string; to: string | null; reason: string; by_name: string; at: string }[] }

describe('an alert withdrawn while in review (HTTP, pipeline replay)', () => {
  let fx: Fixture
  const [reviewed, untouched, later] = people(3, INST_A, 500)
  const mdtrt = (p: typeof reviewed) => `MDTw${p!.psn_no.slice(-4)}`
  const ids = new Map<string, string>()
  const feed = async (who: 'monitor' | 'inspector', query = ''): Promise<string[]> =>
    ((await fx.call(who, 'GET', `/api/v1/alerts?limit=200${query}`)).json() as { alerts: Item[] }).alerts.map((a) => a.alert_id)
  const detail = async (id: string): Promise<Detail> => {
    const res = await fx.call('monitor', 'GET', `/api/v1/alerts/${id}`)
    expect(res.statusCode, res.body).toBe(200)
    return res.json() as Detail
  }
  const reverse = (p: typeof reviewed, n: number) =>
    feeReversed({ event_id: `ev-rev-w-${p!.psn_no}`, mdtrt_id: mdtrt(p), psn_no: p!.psn_no, feedetl_sns: [`${mdtrt(p)}-2`], time: `2026-03-02T13:0${n}:00+08:00`, fixmedins_code: INST_A })

  beforeAll(async () => {
    fx = await fixture()
    await fx.ingest([reviewed!, untouched!, later!].flatMap((p) => eventsFor(p, 2, 'w')))
    for (const p of [reviewed!, untouched!, later!]) {
      const res = (await fx.call('inspector', 'GET', `/api/v1/alerts?detector=duplicate-charge&psn_no=${p.psn_no}`)).json() as { alerts: Item[] }
      expect(res.alerts).toHaveLength(1)
      ids.set(p.psn_no, res.alerts[0]!.alert_id)
    }
  })
  afterAll(async () => fx?.close())

  it('keeps the review record, shows the withdrawal, and keeps it in the default feed and "mine" while the review is open', async () => {
    const id = ids.get(reviewed!.psn_no)!
    const assigned = await fx.call('monitor', 'POST', `/api/v1/alerts/${id}/assign`, { assignee: fx.ids.monitor, version: 0 })
    expect(assigned.statusCode, assigned.body).toBe(200)
    const moved = await fx.call('monitor', 'POST', `/api/v1/alerts/${id}/transitions`, { to: 'first_review', version: 1, reason: '核对重复收费' })
    expect(moved.statusCode, moved.body).toBe(200)
    const before = await detail(id)
    expect(before.alert).toMatchObject({ status: 'active', revision: 1 })
    expect(before.history.map((h) => [h.version, h.kind, h.from, h.to])).toEqual([[1, 'assign', 'new', null], [2, 'transition', 'new', 'first_review']])

    // The hospital reverses the duplicated line of both people; the third keeps his.
    await fx.ingest([reverse(reviewed, 1), reverse(untouched, 2)])

    const after = await detail(id)
    expect(after.alert).toMatchObject({ status: 'withdrawn', revision: 2, withdrawn_reason: 'reversed', revision_event_id: `ev-rev-w-${reviewed!.psn_no}` })
    // Detection and review are two records: the withdrawal touched neither the workflow nor its history.
    expect(after.alert.workflow).toEqual(before.alert.workflow)
    expect(after.alert.workflow).toMatchObject({ status: 'first_review', version: 2, assignee: fx.ids.monitor })
    expect(after.history).toEqual(before.history)

    const untouchedId = ids.get(untouched!.psn_no)!
    expect((await detail(untouchedId)).alert).toMatchObject({ status: 'withdrawn', withdrawn_reason: 'reversed', workflow: { status: 'new', version: 0 } })
    // The default feed: withdrawn alerts leave it, except one whose review is open.
    const current = await feed('monitor')
    expect(current).toContain(id)
    expect(current).not.toContain(untouchedId)
    expect(current).toContain(ids.get(later!.psn_no))
    expect(await feed('monitor', '&assignee=me')).toEqual([id])
    expect((await feed('monitor', '&lifecycle=withdrawn')).sort()).toEqual([id, untouchedId].sort())
    expect(await feed('monitor', '&lifecycle=all')).toEqual(expect.arrayContaining([id, untouchedId, ids.get(later!.psn_no)]))
    // Page by page (two-phase query) the same as in one page.
    const paged: string[] = []
    let cursor: string | undefined
    do {
      const res = (await fx.call('monitor', 'GET', `/api/v1/alerts?limit=1${cursor ? `&cursor=${cursor}` : ''}`)).json() as { alerts: Item[]; next?: string }
      paged.push(...res.alerts.map((a) => a.alert_id))
      cursor = res.next
    } while (cursor)
    expect(paged).toEqual(current)
  })

  it('lets the reviewer close a withdrawn alert by dismissing it; closed, it leaves the default feed and stays on record', async () => {
    const id = ids.get(reviewed!.psn_no)!
    const res = await fx.call('monitor', 'POST', `/api/v1/alerts/${id}/transitions`, { to: 'dismissed', version: 2, reason: '预警已撤回：重复明细已冲销' })
    expect(res.statusCode, res.body).toBe(200)
    const d = await detail(id)
    expect(d.alert).toMatchObject({ status: 'withdrawn', workflow: { status: 'dismissed', version: 3 } })
    expect(d.history.map((h) => [h.version, h.from, h.to, h.reason])).toEqual([[1, 'new', null, ''], [2, 'new', 'first_review', '核对重复收费'], [3, 'first_review', 'dismissed', '预警已撤回：重复明细已冲销']])
    expect(await feed('monitor')).not.toContain(id)
    expect(await feed('monitor', '&assignee=me')).toEqual([])
    expect(await feed('monitor', '&lifecycle=withdrawn&status=dismissed')).toEqual([id])
  })

  it('refuses no step on a withdrawn alert: an inspector may still pursue it (a reversal after notice is itself a finding), and then it is back in the default feed', async () => {
    const id = ids.get(untouched!.psn_no)!
    const res = await fx.call('inspector', 'POST', `/api/v1/alerts/${id}/transitions`, { to: 'first_review', version: 0, assignee: fx.ids.inspector })
    expect(res.statusCode, res.body).toBe(200)
    expect(await feed('inspector')).toContain(id)
    expect((await detail(id)).alert).toMatchObject({ status: 'withdrawn', workflow: { status: 'first_review', version: 1 } })
  })
})

/**
 * The feed reads without FINAL (src/store/alerts.ts): with several unmerged
 * revisions per alert, and withdrawals later undone or under review, every
 * page of the current feed must hold exactly the alerts whose latest revision
 * is not withdrawn or whose review is open.
 */
describe('the current feed over unmerged revisions (two-phase query stays exact)', () => {
  let app: TestApp
  const N = 64
  const t0 = Date.parse('2026-03-01T00:00:00Z')
  const id = (i: number) => createHash('md5').update(`w${i}`).digest('hex')
  // i % 4: 0 active; 1 withdrawn; 2 withdrawn then re-raised (updated); 3 withdrawn with a review: open (i % 8 = 3) or dismissed (i % 8 = 7).
  const expected = Array.from({ length: N }, (_, i) => i).filter((i) => i % 4 !== 1 && i % 8 !== 7)

  function doc(i: number, revision: number, status: Alert['status']): Alert {
    const detected = new Date(t0 + i * 60_000).toISOString()
    return {
      alert_id: id(i), schema_version: 1, detector: { id: 'duplicate-charge', version: '1.0.0', params_hash: 'abcdefabcdef' },
      result: 'violation', severity: (['low', 'medium', 'high', 'critical'] as const)[i % 4]!, stage: 'in',
      subject: { fixmedins_code: 'H37070200001', psn_no: `PSN${String(i).padStart(8, '0')}` },
      refs: { mdtrt_ids: [`M${i}`], feedetl_sns: [], setl_ids: [], event_ids: [] },
      amount_at_risk: `${(i * 37) % 500 + revision}.00`, title: { zh: '重复收费', en: 'duplicate' }, message: { zh: 'm', en: 'm' }, evidence: {}, basis: { zh: 'b', en: 'b' },
      event_time: detected, detected_at: detected, revision, status,
      ...(status === 'withdrawn' ? { withdrawn_reason: 'reversed' as const, revision_event_id: `rev-${i}` } : {}),
      revised_at: new Date(t0 + i * 60_000 + revision * 3_600_000).toISOString(),
    }
  }

  beforeAll(async () => {
    app = await testApp()
    const all = Array.from({ length: N }, (_, i) => i)
    // One insert per revision: separate parts, not merged.
    await app.store.insert('alerts', all.map((i) => alertRow(doc(i, 1, 'active'), '370702')))
    await app.store.insert('alerts', all.filter((i) => i % 4 !== 0).map((i) => alertRow(doc(i, 2, 'withdrawn'), '370702')))
    await app.store.insert('alerts', all.filter((i) => i % 4 === 2).map((i) => alertRow(doc(i, 3, 'updated'), '370702')))
    const review = new ReviewService(app.store, reviewConfig({}), () => t0 + 86_400_000)
    const by: Principal = { id: 'u_test', name: '监控员', role: 'inspector', admdvs: [], fixmedins_codes: [] }
    for (const i of all.filter((k) => k % 4 === 3)) {
      const meta = { alert_id: id(i), detector_id: 'duplicate-charge', fixmedins_code: 'H37070200001', admdvs: '370702', amount_at_risk: '1.00', detected_at: t0 + i * 60_000 }
      await review.transition(by, meta, { to: 'first_review', version: 0 })
      if (i % 8 === 7) await review.transition(by, meta, { to: 'dismissed', version: 1, reason: '预警已撤回' })
    }
  })
  afterAll(async () => app?.close())

  async function walk(q: Omit<AlertQuery, 'cursor'>): Promise<string[]> {
    const out: string[] = []
    let cursor: string | undefined
    for (let k = 0; k < 200; k++) {
      const page = await listAlerts(app.store, { ...q, cursor })
      out.push(...page.alerts.map((a) => a.alert.alert_id))
      if (!page.next) return out
      cursor = page.next
    }
    throw new Error('no end')
  }

  it.each([['newest', 3], ['amount', 5], ['severity', 7], ['newest', 100]] as const)('sort %s, %i a page', async (sort, limit) => {
    const got = await walk({ sort, limit, lifecycle: 'current' })
    expect(new Set(got).size).toBe(got.length)
    expect([...got].sort()).toEqual(expected.map(id).sort())
    if (sort === 'newest') expect(got).toEqual([...expected].reverse().map(id))
  })

  it('answers the withdrawn feed from the latest revision only', async () => {
    const got = await walk({ sort: 'newest', limit: 4, lifecycle: 'withdrawn' })
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i).filter((i) => i % 4 === 1 || i % 4 === 3).reverse().map(id))
  })
})
