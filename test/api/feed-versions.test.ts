import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Alert } from '../../schemas/index.ts'
import { listAlerts, type AlertQuery } from '../../src/store/alerts.ts'
import { alertRow } from '../../src/store/rows.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

/**
 * The feed reads without FINAL and resolves alert versions itself. Here the
 * table holds many unmerged versions of the same alerts — refined findings
 * whose amount, severity and detection time changed, replays with equal
 * event_time — and every page of many queries must equal what a FINAL query
 * over the merged table returns.
 */
let app: TestApp
const DETECTORS = ['duplicate-charge', 'restricted-item', 'over-quantity']
const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const
const INSTS = [['H37070200001', '370702'], ['H37070300001', '370703'], ['H11010500001', '110105']] as const

function rng(seed: number) {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
}

function alert(i: number, v: { amount: number; severity: (typeof SEVERITIES)[number]; eventMs: number; detectedMs: number }): Alert {
  const [inst] = INSTS[i % 3]!
  return {
    alert_id: createHash('md5').update(`a${i}`).digest('hex'), schema_version: 1,
    detector: { id: DETECTORS[i % 3]!, version: '1.0.0', params_hash: 'abcdefabcdef' },
    result: i % 2 ? 'violation' : 'suspicious', severity: v.severity, stage: 'in',
    subject: { fixmedins_code: inst, psn_no: `PSN${String(i % 40).padStart(8, '0')}` },
    refs: { mdtrt_ids: [`M${i}`], feedetl_sns: [], setl_ids: [], event_ids: [] },
    amount_at_risk: v.amount.toFixed(2), title: { zh: '告警', en: 'alert' }, message: { zh: 'm', en: 'm' }, evidence: {}, basis: { zh: 'b', en: 'b' },
    event_time: new Date(v.eventMs).toISOString(), detected_at: new Date(v.detectedMs).toISOString(), revision: 1, status: 'active', revised_at: new Date(v.detectedMs).toISOString(),
  }
}

beforeAll(async () => {
  app = await testApp()
  const r = rng(7)
  const t0 = Date.parse('2026-03-01T00:00:00Z')
  const admdvs = (i: number) => INSTS[i % 3]![1]
  // 400 alerts; then, in separate inserts (separate parts, not merged), new
  // versions of a third of them: later event_time with another amount and
  // severity (a refined finding), or the same event_time detected again (a replay).
  const first = Array.from({ length: 400 }, (_, i) => alert(i, { amount: Math.round(r() * 100000) / 100, severity: SEVERITIES[i % 4]!, eventMs: t0 + i * 60_000, detectedMs: t0 + i * 60_000 + 5_000 }))
  await app.store.insert('alerts', first.map((a, i) => alertRow(a, admdvs(i))))
  for (let round = 1; round <= 3; round++) {
    const again = first.filter((_, i) => (i + round) % 3 === 0).map((a) => {
      const i = first.indexOf(a)
      const refined = r() < 0.5
      const ev = Date.parse(a.event_time) + (refined ? round * 3_600_000 : 0)
      return alertRow(alert(i, { amount: refined ? Math.round(r() * 100000) / 100 : Number(a.amount_at_risk), severity: refined ? SEVERITIES[Math.floor(r() * 4)]! : a.severity, eventMs: ev, detectedMs: t0 + 400 * 60_000 + round * 86_400_000 + i * 1000 }), admdvs(i))
    })
    await app.store.insert('alerts', again)
  }
  const parts = await app.store.query<{ c: string }>(`SELECT count() c FROM system.parts WHERE database = {d:String} AND table = 'alerts' AND active`, { d: app.store.db })
  expect(Number(parts[0]!.c)).toBeGreaterThan(1)
})
afterAll(async () => app?.close())

/** What FINAL says, the long way: every page of the same query through the merged view. */
async function reference(q: AlertQuery): Promise<string[]> {
  const where: string[] = []
  const params: Record<string, unknown> = {}
  if (q.detector) { where.push('detector_id IN {d:Array(String)}'); params.d = q.detector }
  if (q.severity) { where.push('severity IN {s:Array(String)}'); params.s = q.severity }
  if (q.amount_min !== undefined) { where.push('amount_at_risk >= {amin:Decimal(38,2)}'); params.amin = q.amount_min }
  if (q.admdvs) { where.push('startsWith(admdvs, {a:String})'); params.a = q.admdvs }
  if (q.scope) { where.push('(arrayExists(x -> startsWith(admdvs, x), {sa:Array(String)}) OR has({sc:Array(String)}, fixmedins_code))'); Object.assign(params, { sa: q.scope.admdvs, sc: q.scope.fixmedins_codes }) }
  const order = q.sort === 'amount' ? 'amount_at_risk DESC, alert_id DESC' : q.sort === 'severity' ? `multiIf(severity = 'critical', 4, severity = 'high', 3, severity = 'medium', 2, 1) DESC, detected_at DESC, alert_id DESC` : 'detected_at DESC, alert_id DESC'
  const rows = await app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${app.store.t('alerts')} FINAL ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${order}`, params)
  return rows.map((r) => r.alert_id)
}

async function walk(q: AlertQuery): Promise<string[]> {
  const out: string[] = []
  let cursor: string | undefined
  for (let i = 0; i < 1000; i++) {
    const page = await listAlerts(app.store, { ...q, cursor })
    out.push(...page.alerts.map((a) => a.alert.alert_id))
    cursor = page.next
    if (!cursor) return out
  }
  throw new Error('no end')
}

describe('feed over unmerged versions', () => {
  const queries: [string, AlertQuery][] = [
    ['newest', { limit: 20 }],
    ['newest, small pages', { limit: 3 }],
    ['amount', { limit: 25, sort: 'amount' }],
    ['severity', { limit: 30, sort: 'severity' }],
    ['amount ≥ 500 (an older version may have matched)', { limit: 10, amount_min: '500' }],
    ['critical only, by amount', { limit: 7, sort: 'amount', severity: ['critical'] }],
    ['one detector in a region', { limit: 9, detector: ['restricted-item'], admdvs: '3707' }],
    ['scoped token', { limit: 11, sort: 'severity', scope: { admdvs: ['370703'], fixmedins_codes: ['H11010500001'] } }],
  ]
  for (const [name, q] of queries) {
    it(name, async () => {
      const expected = await reference(q)
      expect(expected.length).toBeGreaterThan(q.limit)
      expect(await walk(q)).toEqual(expected)
    })
  }

  it('shows each alert\'s current version (the one the merge keeps)', async () => {
    const page = await listAlerts(app.store, { limit: 500 })
    const final = new Map((await app.store.query<{ alert_id: string; amount_at_risk: number; severity: string; detected_at: string }>(
      `SELECT alert_id, amount_at_risk, severity, detected_at FROM ${app.store.t('alerts')} FINAL`)).map((r) => [r.alert_id, r]))
    expect(page.alerts).toHaveLength(400)
    for (const { alert } of page.alerts) {
      const f = final.get(alert.alert_id)!
      expect([alert.amount_at_risk, alert.severity], alert.alert_id).toEqual([Number(f.amount_at_risk).toFixed(2), f.severity])
    }
  })
})
