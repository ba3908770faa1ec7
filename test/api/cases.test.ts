import { createHash } from 'node:crypto'
import ExcelJS from 'exceljs'
import { strFromU8, unzipSync } from 'fflate'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { INST_A, INST_A2, INST_B, eventsFor, fixture, people, type Fixture } from './fixture.ts'

let fx: Fixture
let alertsA: { alert_id: string; psn_no: string; amount_at_risk: string; detector_id: string }[] = []
const inspectors = people(4, INST_A)

beforeAll(async () => {
  fx = await fixture()
  await fx.ingest([...inspectors.flatMap((p) => eventsFor(p, 2, 'a')), ...people(2, INST_A2, 50).flatMap((p) => eventsFor(p, 2, 'c')), ...people(3, INST_B, 100).flatMap((p) => eventsFor(p, 2, 'b'))])
  alertsA = await fx.app.store.query(`SELECT alert_id, psn_no, toString(amount_at_risk) AS amount_at_risk, detector_id FROM ${fx.app.store.t('alerts')} FINAL WHERE fixmedins_code = {i:String} ORDER BY alert_id`, { i: INST_A })
})
afterAll(async () => fx?.close())

const purpose = encodeURIComponent('案件办理：现场稽核取证')

describe('cases', () => {
  let caseId = ''

  it('opens a case over alerts about one institution and shows its alerts, totals and timeline', async () => {
    const ids = alertsA.slice(0, 6).map((a) => a.alert_id)
    const r = await fx.call('inspector', 'POST', '/api/v1/cases', { title: '潍坊市第一医院重复收费', subject: { kind: 'institution', fixmedins_code: INST_A }, alert_ids: ids, note: '群众举报' })
    expect(r.statusCode).toBe(201)
    const c = r.json().case
    caseId = c.case_id
    expect(c).toMatchObject({ status: 'open', version: 1, alert_ids: ids, fixmedins_codes: [INST_A], admdvs: ['370702'], assignee: fx.ids.inspector, note: '群众举报' })
    expect(c.case_id).toMatch(/^C\d{8}-[0-9a-f]{8}$/)
    const sum = alertsA.slice(0, 6).reduce((s, a) => s + Number(a.amount_at_risk), 0).toFixed(2)
    expect(c.amount_at_risk).toBe(sum)

    await fx.call('inspector', 'POST', `/api/v1/alerts/${ids[0]}/transitions`, { to: 'first_review', version: 0 })
    const d = (await fx.call('inspector', 'GET', `/api/v1/cases/${caseId}`)).json()
    expect(d.alerts.map((a: { alert_id: string }) => a.alert_id)).toEqual(ids)
    expect(d.totals).toMatchObject({ alerts: 6, open_alerts: 6, amount_at_risk: sum, recovered_amount: '0.00' })
    expect(d.timeline.map((e: { kind: string; what: string }) => `${e.kind}:${e.what}`)).toEqual(['case:created', 'alert:new→first_review'])
  })

  it('requires a subject the kind names', async () => {
    expect((await fx.call('inspector', 'POST', '/api/v1/cases', { title: '某医师', subject: { kind: 'doctor' }, alert_ids: [alertsA[0]!.alert_id] })).statusCode).toBe(400)
    expect((await fx.call('inspector', 'POST', '/api/v1/cases', { title: '某人', subject: { kind: 'person' }, alert_ids: [alertsA[0]!.alert_id] })).statusCode).toBe(400)
    const p = await fx.call('inspector', 'POST', '/api/v1/cases', { title: '参保人多次重复', subject: { kind: 'person', psn_no: alertsA[0]!.psn_no }, alert_ids: alertsA.filter((a) => a.psn_no === alertsA[0]!.psn_no).map((a) => a.alert_id) })
    expect(p.statusCode).toBe(201)
    expect(p.json().case.subject).toEqual({ kind: 'person', fixmedins_code: '', doctor: '', psn_no: alertsA[0]!.psn_no })
    expect((await fx.call('inspector', 'POST', '/api/v1/cases', { title: '空', subject: { kind: 'institution' }, alert_ids: [] })).statusCode).toBe(400)
  })

  it('adds and removes alerts, closes and reopens, refusing stale versions', async () => {
    const add = alertsA.slice(6, 8).map((a) => a.alert_id)
    const r1 = await fx.call('inspector', 'PATCH', `/api/v1/cases/${caseId}`, { version: 1, add_alert_ids: add, remove_alert_ids: [alertsA[5]!.alert_id] })
    expect(r1.statusCode).toBe(200)
    expect(r1.json().case.alert_ids).toEqual([...alertsA.slice(0, 5).map((a) => a.alert_id), ...add])
    expect(r1.json().case.version).toBe(2)
    const stale = await fx.call('admin', 'PATCH', `/api/v1/cases/${caseId}`, { version: 1, status: 'closed' })
    expect([stale.statusCode, stale.json().error]).toEqual([409, 'CONFLICT'])
    // Alerts from another institution of the same region widen the case's places.
    const other = (await fx.app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE fixmedins_code = {i:String} LIMIT 1`, { i: INST_A2 }))[0]!.alert_id
    const r2 = await fx.call('inspector', 'PATCH', `/api/v1/cases/${caseId}`, { version: 2, add_alert_ids: [other], title: '潍坊两院重复收费' })
    expect(r2.json().case).toMatchObject({ fixmedins_codes: [INST_A, INST_A2], admdvs: ['370702', '370702'], title: '潍坊两院重复收费', version: 3 })
    const closed = await fx.call('inspector', 'PATCH', `/api/v1/cases/${caseId}`, { version: 3, status: 'closed' })
    expect(closed.json().case.status).toBe('closed')
    expect((await fx.call('inspector', 'GET', '/api/v1/cases?status=open&limit=200')).json().cases.map((c: { case_id: string }) => c.case_id)).not.toContain(caseId)
    expect((await fx.call('inspector', 'GET', '/api/v1/cases?status=closed')).json().cases.map((c: { case_id: string }) => c.case_id)).toContain(caseId)
    const reopened = await fx.call('inspector', 'PATCH', `/api/v1/cases/${caseId}`, { version: 4, status: 'open' })
    expect(reopened.json().case).toMatchObject({ status: 'open', version: 5 })
    const all = [...(await fx.call('inspector', 'GET', `/api/v1/cases/${caseId}`)).json().alerts.map((a: { alert_id: string }) => a.alert_id)]
    expect((await fx.call('inspector', 'PATCH', `/api/v1/cases/${caseId}`, { version: 5, remove_alert_ids: all })).statusCode).toBe(400)
    const timeline = (await fx.call('inspector', 'GET', `/api/v1/cases/${caseId}`)).json().timeline.filter((e: { kind: string }) => e.kind === 'case')
    expect(timeline.map((e: { what: string }) => e.what)).toEqual(['created', 'updated', 'updated', 'closed', 'reopened'])
  })

  it('pages the case list newest first', async () => {
    for (let i = 0; i < 4; i++) {
      fx.clock.ms += 1000
      await fx.call('inspector', 'POST', '/api/v1/cases', { title: `分页案件${i}`, subject: { kind: 'institution' }, alert_ids: [alertsA[i]!.alert_id] })
    }
    const seen: string[] = []
    let next: string | undefined
    do {
      const body = (await fx.call('inspector', 'GET', `/api/v1/cases?limit=2${next ? `&cursor=${next}` : ''}`)).json()
      seen.push(...body.cases.map((c: { case_id: string }) => c.case_id))
      next = body.next
    } while (next)
    const rows = await fx.app.store.query<{ case_id: string }>(`SELECT case_id FROM ${fx.app.store.t('cases')} FINAL ORDER BY created_at DESC, case_id DESC`)
    expect(seen).toEqual(rows.map((r) => r.case_id))
  })
})

describe('evidence pack', () => {
  let caseId = ''
  beforeAll(async () => {
    const ids = alertsA.slice(0, 6).map((a) => a.alert_id)
    caseId = (await fx.call('inspector', 'POST', '/api/v1/cases', { title: '证据包测试', subject: { kind: 'institution', fixmedins_code: INST_A }, alert_ids: ids })).json().case.case_id
    // One alert decided, so the pack carries a recovered amount.
    for (const [to, v] of [['first_review', 0], ['second_review', 1]] as const) await fx.call('inspector', 'POST', `/api/v1/alerts/${ids[0]}/transitions`, { to, version: v })
    await fx.call('inspector', 'POST', `/api/v1/alerts/${ids[0]}/transitions`, { to: 'decided', version: 2, decision: { recovered_amount: '71.00', penalty_amount: '71.00', measures: '责令退回' } })
  })

  const unpack = async (who: 'inspector' | 'admin', q = `purpose=${purpose}`) => {
    const r = await fx.call(who, 'GET', `/api/v1/cases/${caseId}/evidence.zip?${q}`)
    expect(r.statusCode, r.body.slice(0, 200)).toBe(200)
    expect(r.headers['content-type']).toBe('application/zip')
    expect(r.headers['content-disposition']).toBe(`attachment; filename="case-${caseId}.zip"`)
    return { files: unzipSync(new Uint8Array(r.rawPayload)), headers: r.headers }
  }

  it('zips case.json, lines.xlsx, lines.csv, report.html and a manifest whose SHA-256 match every file', async () => {
    const { files, headers } = await unpack('inspector')
    expect(Object.keys(files).sort()).toEqual(['case.json', 'lines.csv', 'lines.xlsx', 'manifest.json', 'report.html'])
    const manifest = JSON.parse(strFromU8(files['manifest.json']!)) as { case_id: string; purpose: string; revealed: boolean; files: { name: string; bytes: number; sha256: string }[] }
    expect(manifest).toMatchObject({ case_id: caseId, purpose: '案件办理：现场稽核取证', revealed: true })
    expect(manifest.files.map((f) => f.name).sort()).toEqual(['case.json', 'lines.csv', 'lines.xlsx', 'report.html'])
    for (const f of manifest.files) {
      expect(createHash('sha256').update(files[f.name]!).digest('hex'), f.name).toBe(f.sha256)
      expect(files[f.name]!.byteLength).toBe(f.bytes)
    }
    expect(headers['x-evidence-files']).toBe(manifest.files.map((f) => `${f.name}=${f.sha256}`).join(';'))
  })

  it('carries the claim lines in both tables, the case in JSON and a zh-CN report with rules and amounts', async () => {
    const { files } = await unpack('inspector')
    const data = JSON.parse(strFromU8(files['case.json']!))
    const mdtrt = new Set(data.alerts.flatMap((a: { refs: { mdtrt_ids: string[] } }) => a.refs.mdtrt_ids))
    const lines = await fx.app.store.query<{ c: string }>(`SELECT count() c FROM ${fx.app.store.t('fee_lines')} FINAL WHERE mdtrt_id IN {m:Array(String)}`, { m: [...mdtrt] })
    const n = Number(lines[0]!.c)
    expect(data.fee_lines).toHaveLength(n)
    expect(data.totals).toMatchObject({ alerts: 6, recovered_amount: '71.00', penalty_amount: '71.00' })
    const csv = strFromU8(files['lines.csv']!)
    // A UTF-8 BOM, so Excel reads the Chinese headers (TextDecoder drops it, so look at the bytes).
    expect([...files['lines.csv']!.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const rows = csv.trim().split('\r\n')
    expect(rows).toHaveLength(n + 1)
    expect(rows[0]).toContain('费用明细流水号(feedetl_sn)')
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(files['lines.xlsx']!.buffer.slice(files['lines.xlsx']!.byteOffset, files['lines.xlsx']!.byteOffset + files['lines.xlsx']!.byteLength) as ArrayBuffer)
    expect(wb.getWorksheet('费用明细')!.rowCount).toBe(n + 1)
    expect(wb.getWorksheet('告警')!.rowCount).toBe(7)
    const html = strFromU8(files['report.html']!)
    expect(html).toContain('<html lang="zh-CN">')
    expect(html).toContain('证据包测试')
    // The report escapes text for HTML (a basis may quote "限…" terms).
    const escaped = (t: string) => t.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
    for (const a of data.alerts as { basis: { zh: string } }[]) expect(html).toContain(escaped(a.basis.zh))
    expect(html).toContain('违规处理')
    expect(html).toContain('¥71.00')
    expect(html).not.toMatch(/<script/i)
  })

  it('masks personal data in the pack unless an inspector states a purpose', async () => {
    const person = inspectors[0]!
    const revealed = strFromU8((await unpack('inspector')).files['case.json']!)
    expect(revealed).toContain(person.certno)
    const masked = await unpack('admin')
    for (const name of Object.keys(masked.files)) {
      const text = name.endsWith('.xlsx') ? '' : strFromU8(masked.files[name]!)
      expect(text, name).not.toContain(person.certno)
      expect(text, name).not.toContain(person.psn_name)
    }
    expect(JSON.parse(strFromU8(masked.files['manifest.json']!)).revealed).toBe(false)
    expect(strFromU8(masked.files['case.json']!)).toContain(person.certno.slice(0, 6) + '********' + person.certno.slice(-4))
  })

  it('needs a purpose for an export and logs every export and view with it', async () => {
    expect((await fx.call('inspector', 'GET', `/api/v1/cases/${caseId}/evidence.zip`)).statusCode).toBe(400)
    const before = (await fx.call('admin', 'GET', `/api/v1/access-log?object_id=${caseId}&limit=500`)).json().entries.length
    // the previous test's exports were logged at this same instant; move on so the log order is by time, not by id
    fx.clock.ms += 1000
    await unpack('inspector')
    fx.clock.ms += 1000
    const view = await fx.call('inspector', 'GET', `/api/v1/cases/${caseId}/evidence`, undefined, { 'x-purpose': encodeURIComponent('复核证据') })
    expect(view.json().revealed).toBe(true)
    expect(view.json().visits.length).toBeGreaterThan(0)
    const entries = (await fx.call('admin', 'GET', `/api/v1/access-log?object_id=${caseId}&limit=500`)).json().entries as { action: string; purpose: string; user_name: string; revealed: boolean }[]
    expect(entries).toHaveLength(before + 2)
    expect(entries.slice(0, 2).map((e) => [e.action, e.purpose, e.user_name, e.revealed])).toEqual([
      ['view', '复核证据', '稽核员甲', true],
      ['export', '案件办理：现场稽核取证', '稽核员甲', true],
    ])
  })
})

describe('detector catalog', () => {
  it('lists every registered detector with a JSON Schema of its parameters and its review outcomes', async () => {
    const list = (await fx.call('monitor', 'GET', '/api/v1/detectors')).json().detectors as { id: string; params_schema: { type: string; properties: Record<string, unknown> }; params: Record<string, unknown>; enabled: boolean; stats: { alerts: number; confirmed: number; dismissed: number; precision: number | null; open: number } }[]
    expect(list.map((d) => d.id).sort()).toEqual(fx.app.registry.map((d) => d.id).sort())
    for (const d of list) {
      expect(d.params_schema.type, d.id).toBe('object')
      expect(Object.keys(d.params_schema.properties ?? {}).sort(), d.id).toEqual(Object.keys(d.params).sort())
    }
    // Review outcomes: decide two duplicate-charge alerts in region B and dismiss one.
    const dup = (await fx.app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE detector_id = 'duplicate-charge' AND admdvs = '110105' ORDER BY alert_id`)).map((r) => r.alert_id)
    expect(dup.length).toBeGreaterThanOrEqual(3)
    for (const id of dup.slice(0, 2)) {
      for (const [to, v] of [['first_review', 0], ['second_review', 1]] as const) await fx.call('inspector', 'POST', `/api/v1/alerts/${id}/transitions`, { to, version: v })
      await fx.call('inspector', 'POST', `/api/v1/alerts/${id}/transitions`, { to: 'decided', version: 2, decision: { recovered_amount: '10.00' } })
    }
    await fx.call('monitorB', 'POST', `/api/v1/alerts/${dup[2]}/transitions`, { to: 'dismissed', version: 0, reason: '同一时间两次给药，医嘱如此' })
    const b = (await fx.call('monitorB', 'GET', '/api/v1/detectors/duplicate-charge')).json().detector
    expect(b.stats).toMatchObject({ alerts: dup.length, confirmed: 2, dismissed: 1, open: dup.length - 3 })
    expect(b.stats.precision).toBeCloseTo(2 / 3, 10)
    const untouched = (await fx.call('monitorB', 'GET', '/api/v1/detectors/restricted-item')).json().detector.stats
    expect(untouched.precision).toBeNull()
  })
})

describe('institution risk ranking', () => {
  it('ranks by open amount at risk and reports the confirmed rate', async () => {
    const rank = (await fx.call('inspector', 'GET', '/api/v1/institutions/ranking')).json().institutions as { fixmedins_code: string; name: string; open_amount_at_risk: string; alerts: number; open_alerts: number; confirmed: number; dismissed: number; confirmed_rate: number | null }[]
    expect(rank.map((r) => r.fixmedins_code).sort()).toEqual([INST_A, INST_A2, INST_B].sort())
    const amounts = rank.map((r) => Number(r.open_amount_at_risk))
    expect(amounts).toEqual([...amounts].sort((a, b) => b - a))
    for (const r of rank) {
      const open = await fx.app.store.query<{ s: string; c: string }>(
        `SELECT toString(sum(amount_at_risk)) s, count() c FROM ${fx.app.store.t('alerts')} FINAL WHERE fixmedins_code = {i:String}
         AND alert_id NOT IN (SELECT alert_id FROM ${fx.app.store.t('alert_status')} FINAL WHERE status IN ('decided', 'dismissed'))`, { i: r.fixmedins_code })
      expect(Number(r.open_amount_at_risk), r.fixmedins_code).toBeCloseTo(Number(open[0]!.s), 2)
      expect(r.open_alerts).toBe(Number(open[0]!.c))
    }
    const b = rank.find((r) => r.fixmedins_code === INST_B)!
    expect(b).toMatchObject({ name: '朝阳区中心医院', confirmed: 2, dismissed: 1 })
    expect(b.confirmed_rate).toBeCloseTo(2 / 3, 10)
    const byRate = (await fx.call('inspector', 'GET', '/api/v1/institutions/ranking?sort=confirmed_rate&limit=1')).json().institutions
    expect(byRate.map((r: { fixmedins_code: string }) => r.fixmedins_code)).toEqual([INST_A])
  })
})
