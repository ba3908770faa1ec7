import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { INST_A, INST_A2, INST_B, eventsFor, fixture, people, type Fixture, type TokenName } from './fixture.ts'

let fx: Fixture

interface Row { alert_id: string; detector_id: string; fixmedins_code: string; admdvs: string; stage: string; result: string; severity: string; amount_at_risk: number; detected_at: number; psn_no: string }
interface Item { alert_id: string; amount_at_risk: string; severity: string; detected_at: string; workflow: { status: string } }

const SEV: Record<string, number> = { critical: 4, high: 3, medium: 2, low: 1 }

async function stored(): Promise<Row[]> {
  const rows = await fx.app.store.query<Record<string, unknown>>(
    `SELECT alert_id, detector_id, fixmedins_code, admdvs, stage, result, severity, toFloat64(amount_at_risk) AS amount_at_risk, toUnixTimestamp64Milli(detected_at) AS detected_at, psn_no FROM ${fx.app.store.t('alerts')} FINAL`)
  return rows.map((r) => ({ ...r, amount_at_risk: Number(r.amount_at_risk), detected_at: Number(r.detected_at) }) as Row)
}

/** Every page of a query, following `next`. */
async function all(query: string, who: TokenName = 'monitor', limit = 7): Promise<Item[]> {
  const out: Item[] = []
  let next: string | undefined
  for (let i = 0; i < 1000; i++) {
    const r = await fx.call(who, 'GET', `/api/v1/alerts?limit=${limit}${query ? '&' + query : ''}${next ? `&cursor=${next}` : ''}`)
    expect(r.statusCode, r.body).toBe(200)
    const body = r.json() as { alerts: Item[]; next?: string }
    out.push(...body.alerts)
    next = body.next
    if (!next) return out
  }
  throw new Error('pagination did not end')
}

const byNewest = (a: Row, b: Row) => b.detected_at - a.detected_at || (a.alert_id < b.alert_id ? 1 : -1)
const byAmount = (a: Row, b: Row) => b.amount_at_risk - a.amount_at_risk || (a.alert_id < b.alert_id ? 1 : -1)
const bySeverity = (a: Row, b: Row) => SEV[b.severity]! - SEV[a.severity]! || byNewest(a, b)

beforeAll(async () => {
  // Severities differ by rule so the severity sort and filter have something to order.
  fx = await fixture({ rules: { detectors: { 'restricted-item': { severity: 'high' } } } })
  // Three days of detections at three institutions in two regions.
  fx.clock.set('2026-03-02T14:00:00+08:00')
  await fx.ingest(people(5, INST_A).flatMap((p) => eventsFor(p, 2, 'a')))
  fx.clock.set('2026-03-03T11:00:00+08:00')
  await fx.ingest(people(4, INST_A2, 50).flatMap((p) => eventsFor(p, 3, 'c')))
  fx.clock.set('2026-03-04T16:30:00+08:00')
  await fx.ingest(people(4, INST_B, 100).flatMap((p) => eventsFor(p, 4, 'b')))
})
afterAll(async () => fx?.close())

describe('filters', () => {
  it('each filter returns exactly the alerts that match it', async () => {
    const rows = await stored()
    expect(rows.length).toBeGreaterThan(30)
    const t0 = Date.parse('2026-03-03T00:00:00+08:00')
    const t1 = Date.parse('2026-03-04T00:00:00+08:00')
    const amounts = [...new Set(rows.map((r) => r.amount_at_risk))].sort((a, b) => a - b)
    const mid = amounts[Math.floor(amounts.length / 2)]!
    const detectors = [...new Set(rows.map((r) => r.detector_id))].sort()
    expect(detectors.length).toBeGreaterThan(1)
    const cases: [string, (r: Row) => boolean][] = [
      [`fixmedins_code=${INST_A},${INST_B}`, (r) => r.fixmedins_code === INST_A || r.fixmedins_code === INST_B],
      ['admdvs=3707', (r) => r.admdvs.startsWith('3707')],
      [`detector=${detectors[0]}`, (r) => r.detector_id === detectors[0]],
      ['stage=in', (r) => r.stage === 'in'],
      ['result=violation', (r) => r.result === 'violation'],
      ['severity_in=high,critical', (r) => r.severity === 'high' || r.severity === 'critical'],
      [`amount_min=${mid}`, (r) => r.amount_at_risk >= mid],
      [`amount_max=${mid}`, (r) => r.amount_at_risk <= mid],
      [`from=${encodeURIComponent('2026-03-03T00:00:00+08:00')}&to=${encodeURIComponent('2026-03-04T00:00:00+08:00')}`, (r) => r.detected_at >= t0 && r.detected_at < t1],
      [`psn_no=${rows[0]!.psn_no}`, (r) => r.psn_no === rows[0]!.psn_no],
      [`admdvs=370702&detector=${detectors.join(',')}&amount_min=1`, (r) => r.admdvs === '370702' && r.amount_at_risk >= 1],
    ]
    for (const [q, match] of cases) {
      const expected = rows.filter(match).sort(byNewest).map((r) => r.alert_id)
      expect(expected.length, q).toBeGreaterThan(0)
      expect((await all(q)).map((a) => a.alert_id), q).toEqual(expected)
    }
  })

  it('filters by workflow status, counting untouched alerts as new', async () => {
    const rows = (await stored()).sort(byNewest)
    const [a, b, c] = rows.slice(-3)
    await fx.call('monitor', 'POST', `/api/v1/alerts/${a!.alert_id}/transitions`, { to: 'first_review', version: 0 })
    await fx.call('monitor', 'POST', `/api/v1/alerts/${b!.alert_id}/transitions`, { to: 'first_review', version: 0 })
    await fx.call('monitor', 'POST', `/api/v1/alerts/${b!.alert_id}/transitions`, { to: 'second_review', version: 1 })
    await fx.call('monitor', 'POST', `/api/v1/alerts/${c!.alert_id}/transitions`, { to: 'dismissed', version: 0, reason: '误报' })
    expect((await all('status=first_review')).map((x) => x.alert_id)).toEqual([a!.alert_id])
    expect((await all('status=first_review,second_review')).map((x) => x.alert_id).sort()).toEqual([a!.alert_id, b!.alert_id].sort())
    const fresh = (await all('status=new')).map((x) => x.alert_id)
    expect(fresh).toHaveLength(rows.length - 3)
    expect(fresh).not.toContain(c!.alert_id)
    expect((await all('status=new,dismissed')).length).toBe(rows.length - 2)
    expect((await all('status=dismissed')).map((x) => [x.alert_id, x.workflow.status])).toEqual([[c!.alert_id, 'dismissed']])
  })

  it('rejects malformed filters', async () => {
    for (const q of ['severity_in=urgent', 'status=closed', 'amount_min=-1', 'from=yesterday', 'sort=random', 'admdvs=37a7', 'overdue=maybe']) {
      expect((await fx.call('monitor', 'GET', `/api/v1/alerts?${q}`)).statusCode, q).toBe(400)
    }
  })
})

describe('sorting and keyset pagination', () => {
  it('orders by newest, amount at risk and severity, across pages', async () => {
    const rows = await stored()
    expect((await all('sort=newest')).map((a) => a.alert_id)).toEqual([...rows].sort(byNewest).map((r) => r.alert_id))
    expect((await all('sort=amount')).map((a) => a.alert_id)).toEqual([...rows].sort(byAmount).map((r) => r.alert_id))
    expect((await all('sort=severity', 'monitor', 4)).map((a) => a.alert_id)).toEqual([...rows].sort(bySeverity).map((r) => r.alert_id))
  })

  it('refuses a cursor from another sort or a forged one', async () => {
    const first = (await fx.call('monitor', 'GET', '/api/v1/alerts?limit=2&sort=amount')).json().next as string
    expect((await fx.call('monitor', 'GET', `/api/v1/alerts?limit=2&sort=newest&cursor=${first}`)).statusCode).toBe(400)
    const forged = Buffer.from(JSON.stringify(['newest', "2026-01-01 00:00:00' OR 1=1 --", 'x'])).toString('base64url')
    expect((await fx.call('monitor', 'GET', `/api/v1/alerts?cursor=${forged}`)).statusCode).toBe(400)
  })

  it('never repeats or skips an alert while new ones arrive between pages', async () => {
    for (const sort of ['newest', 'amount', 'severity']) {
      const before = new Set((await stored()).map((r) => r.alert_id))
      const seen: string[] = []
      let next: string | undefined
      let round = 0
      do {
        const body = (await fx.call('monitor', 'GET', `/api/v1/alerts?limit=6&sort=${sort}${next ? `&cursor=${next}` : ''}`)).json() as { alerts: Item[]; next?: string }
        seen.push(...body.alerts.map((a) => a.alert_id))
        next = body.next
        // New detections land between every two pages.
        fx.clock.ms += 60_000
        await fx.ingest(people(1, round % 2 ? INST_A : INST_B, 1000 + seen.length * 10 + ['newest', 'amount', 'severity'].indexOf(sort)).flatMap((p) => eventsFor(p, 5, `p${sort[0]}${round}`)))
        round++
      } while (next)
      expect(new Set(seen).size, `${sort}: duplicates`).toBe(seen.length)
      for (const id of before) expect(seen, `${sort}: skipped ${id}`).toContain(id)
      // Newest first: what arrived after the first page is above it, never inside the walk.
      if (sort === 'newest') expect(seen.filter((id) => !before.has(id))).toEqual([])
    }
  })

  it('stays consistent while an ingest runs concurrently with the walk', async () => {
    const before = new Set((await stored()).map((r) => r.alert_id))
    fx.clock.ms += 3_600_000
    const ingest = fx.ingest(people(6, INST_A2, 3000).flatMap((p) => eventsFor(p, 6, 'cc')))
    const seen = (await all('sort=newest', 'monitor', 5)).map((a) => a.alert_id)
    await ingest
    expect(new Set(seen).size).toBe(seen.length)
    for (const id of before) expect(seen).toContain(id)
  })
})

describe('live feed (SSE)', () => {
  it('pushes new alerts in the caller\'s scope and workflow changes, nothing else', async () => {
    const address = await fx.server.listen({ port: 0, host: '127.0.0.1' })
    const ac = new AbortController()
    try {
      const res = await fetch(`${address}/api/v1/alerts/stream?access_token=${fx.tokens.monitorB}`, { signal: ac.signal })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/)
      const reader = res.body!.getReader()
      let text = ''
      const events = () => text.split('\n\n').filter((b) => b.includes('event: ')).map((b) => ({
        event: /event: (\w+)/.exec(b)![1]!, data: JSON.parse(/data: (.*)/.exec(b)![1]!) as Record<string, unknown>,
      }))
      const until = async (pred: () => boolean) => {
        const deadline = Date.now() + 20_000
        while (!pred() && Date.now() < deadline) {
          const { value, done } = await reader.read()
          if (done) break
          text += new TextDecoder().decode(value)
        }
      }
      await until(() => text.includes(': connected'))
      expect(fx.live.clients()).toBe(1)

      fx.clock.ms += 60_000
      const pa = people(1, INST_A, 5000)
      const pb = people(1, INST_B, 5100)
      await fx.ingest([...eventsFor(pa[0]!, 7, 'sa'), ...eventsFor(pb[0]!, 7, 'sb')])
      const expectedB = (await fx.app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE psn_no = {p:String}`, { p: pb[0]!.psn_no })).map((r) => r.alert_id).sort()
      await until(() => events().filter((e) => e.event === 'alert').length >= expectedB.length)
      const alerts = events().filter((e) => e.event === 'alert').map((e) => e.data as { alert_id: string; admdvs: string; workflow: { status: string } })
      expect(alerts.map((a) => a.alert_id).sort()).toEqual(expectedB)
      expect(alerts.every((a) => a.admdvs === '110105' && a.workflow.status === 'new')).toBe(true)

      await fx.call('monitorB', 'POST', `/api/v1/alerts/${expectedB[0]}/transitions`, { to: 'first_review', version: 0 })
      // A change in the other region must not reach this client.
      const otherA = (await fx.app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE psn_no = {p:String} LIMIT 1`, { p: pa[0]!.psn_no }))[0]!.alert_id
      await fx.call('monitor', 'POST', `/api/v1/alerts/${otherA}/transitions`, { to: 'first_review', version: 0 })
      await until(() => events().some((e) => e.event === 'workflow'))
      const wf = events().filter((e) => e.event === 'workflow')
      expect(wf.map((e) => e.data.alert_id)).toEqual([expectedB[0]])
      expect(wf[0]!.data.workflow).toMatchObject({ status: 'first_review', version: 1 })
    } finally {
      ac.abort()
    }
  })

  it('refuses the stream without a valid token', async () => {
    expect((await fx.call(null, 'GET', '/api/v1/alerts/stream')).statusCode).toBe(401)
    expect((await fx.call(null, 'GET', '/api/v1/alerts/stream?access_token=nope')).statusCode).toBe(401)
  })
})
