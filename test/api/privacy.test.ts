import { strFromU8, unzipSync } from 'fflate'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isValidCertno } from '../../schemas/common.ts'
import { feeUploaded } from '../helpers/detect.ts'
import { INST_A, INST_B, eventsFor, fixture, people, type Fixture, type Person, type TokenName } from './fixture.ts'

/**
 * The privacy run: events carrying 身份证号, names and birthdays go through the
 * pipeline, then every route is called as monitor and admin (and as an
 * inspector without a purpose). Every response body, every file of every
 * evidence pack, the live stream and every log line are scanned for an
 * unmasked ID number, a full name or a full birthday.
 */
let fx: Fixture
const persons: Person[] = [...people(8, INST_A, 200), ...people(4, INST_B, 300)]
const captured: { where: string; text: string }[] = []
let evidenceViews = 0
let exports = 0

const ID18 = /(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])/g

function leaks(text: string): string[] {
  const found: string[] = []
  for (const m of text.matchAll(ID18)) if (isValidCertno(m[0].toUpperCase())) found.push(`id:${m[0]}`)
  for (const p of persons) {
    if (text.includes(p.certno)) found.push(`certno:${p.certno}`)
    if (text.includes(p.psn_name)) found.push(`name:${p.psn_name}`)
    if (text.includes(p.brdy)) found.push(`brdy:${p.brdy}`)
  }
  return found
}

async function get(who: TokenName, url: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await fx.call(who, 'GET', url, undefined, headers)
  expect(r.statusCode, `${who} ${url}: ${r.body.slice(0, 200)}`).toBe(200)
  if (/\/alerts\/[0-9a-f]{32}$|\/alerts\/[0-9a-f]{32}\?|\/evidence(\?|$)/.test(url)) evidenceViews++
  if (url.includes('evidence.zip')) {
    exports++
    const files = unzipSync(new Uint8Array(r.rawPayload))
    for (const [name, bytes] of Object.entries(files)) {
      if (name.endsWith('.xlsx')) {
        // An xlsx is a zip of XML parts: scan every part.
        for (const [part, xml] of Object.entries(unzipSync(bytes))) captured.push({ where: `${who} ${url} ${name}/${part}`, text: strFromU8(xml) })
      } else captured.push({ where: `${who} ${url} ${name}`, text: strFromU8(bytes) })
    }
    return ''
  }
  captured.push({ where: `${who} ${url}`, text: r.body })
  return r.body
}

async function post(who: TokenName, method: 'POST' | 'PATCH', url: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fx.call(who, method, url, body)
  expect(r.statusCode, `${who} ${method} ${url}: ${r.body.slice(0, 200)}`).toBeLessThan(300)
  captured.push({ where: `${who} ${method} ${url}`, text: r.body })
  return r.json()
}

beforeAll(async () => {
  fx = await fixture()
  const events = persons.flatMap((p, i) => [
    ...eventsFor(p, 2, 'v'),
    // A paediatric drug for an adult: the age check quotes the birthday in its evidence.
    feeUploaded({ event_id: `ev-ped-${p.psn_no}`, mdtrt_id: `MDTv${p.psn_no.slice(-4)}`, psn_no: p.psn_no, fixmedins_code: p.inst, lines: [{ feedetl_sn: `PED-${i}`, fee_ocur_time: '2026-03-02T11:30:00+08:00', med_list_codg: 'DRUG-PED', list_type: 'drug', med_chrgitm_type: '11' }] }),
  ])
  await fx.ingest(events)
})
afterAll(async () => fx?.close())

describe('a full run never shows personal data to anyone but an inspector with a purpose', () => {
  it('the data is there to leak: the pipeline stored it, and an inspector with a purpose sees it', async () => {
    const stored = await fx.app.store.query<{ certno: string; psn_name: string }>(`SELECT certno, psn_name FROM ${fx.app.store.t('visits')} FINAL`)
    expect(stored.map((r) => r.certno).sort()).toEqual(persons.map((p) => p.certno).sort())
    const evid = await fx.app.store.query<{ evidence: string }>(`SELECT evidence FROM ${fx.app.store.t('alerts')} FINAL WHERE evidence LIKE '%brdy%' LIMIT 1`)
    expect(evid).toHaveLength(1)
    const id = (await fx.app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE psn_no = {p:String} AND evidence LIKE '%brdy%' LIMIT 1`, { p: persons[0]!.psn_no }))[0]!.alert_id
    const r = await fx.call('inspector', 'GET', `/api/v1/alerts/${id}?purpose=${encodeURIComponent('核查冒名就医线索')}`)
    evidenceViews++
    expect(r.json().revealed).toBe(true)
    // The scanner finds what it is looking for.
    expect(leaks(r.body)).toEqual(expect.arrayContaining([`certno:${persons[0]!.certno}`, `name:${persons[0]!.psn_name}`, `brdy:${persons[0]!.brdy}`]))
  })

  it('calls every route as monitor, admin and inspector-without-purpose and finds nothing unmasked', async () => {
    // The live stream, open while new alerts arrive.
    const address = await fx.server.listen({ port: 0, host: '127.0.0.1' })
    const ac = new AbortController()
    const stream = await fetch(`${address}/api/v1/alerts/stream?access_token=${fx.tokens.monitor}`, { signal: ac.signal })
    const reader = stream.body!.getReader()
    let sse = ''
    const late = people(2, INST_A, 400)
    persons.push(...late)
    fx.clock.ms += 60_000
    await fx.ingest(late.flatMap((p) => eventsFor(p, 3, 'late')))
    while (!sse.includes(late[1]!.psn_no)) {
      const { value, done } = await reader.read()
      if (done) break
      sse += new TextDecoder().decode(value)
    }
    ac.abort()
    captured.push({ where: 'SSE monitor', text: sse })
    expect(sse).toContain('event: alert')

    const ids = (await fx.app.store.query<{ alert_id: string; admdvs: string }>(`SELECT alert_id, admdvs FROM ${fx.app.store.t('alerts')} FINAL ORDER BY alert_id`))
    const idsA = ids.filter((r) => r.admdvs === '370702').map((r) => r.alert_id)
    for (const who of ['monitor', 'admin', 'inspector'] as const) {
      for (const url of ['/api/v1/me', '/api/v1/workflow', '/api/v1/assignees', '/api/v1/detectors', '/api/v1/detectors/restricted-item', '/api/v1/institutions/ranking', `/api/v1/institutions/${INST_A}`]) await get(who, url)
      for (const sort of ['newest', 'amount', 'severity']) {
        let next: string | undefined
        do {
          const body = JSON.parse(await get(who, `/api/v1/alerts?limit=9&sort=${sort}${next ? `&cursor=${next}` : ''}`)) as { next?: string }
          next = body.next
        } while (next)
      }
      // Every alert's detail, with its visits, lines and settlements; a monitor or admin stating a purpose changes nothing.
      for (const id of ids.map((r) => r.alert_id)) await get(who, `/api/v1/alerts/${id}`)
      if (who === 'inspector') continue
      await get(who, `/api/v1/alerts/${ids[0]!.alert_id}?purpose=${encodeURIComponent('想看看')}`)
      await get(who, `/api/v1/alerts/${ids[1]!.alert_id}`, { 'x-purpose': encodeURIComponent('想看看') })
    }
    // Workflow, cases and evidence as admin (and the inspector without a purpose).
    await post('monitor', 'POST', `/api/v1/alerts/${idsA[0]}/transitions`, { to: 'first_review', version: 0, assignee: fx.ids.monitor })
    await post('admin', 'POST', `/api/v1/alerts/${idsA[1]}/assign`, { assignee: fx.ids.inspector, version: 0 })
    // 事前: the HIS's draft carries the patient's 身份证号, name and birthday; the answers must not.
    const drafter = people(1, INST_A, 450)[0]!
    persons.push(drafter)
    const draft = [
      ...eventsFor(drafter, 2, 'draft').slice(0, 2),
      feeUploaded({ event_id: `ev-ped-draft`, mdtrt_id: `MDTdraft${drafter.psn_no.slice(-4)}`, psn_no: drafter.psn_no, fixmedins_code: INST_A, lines: [{ feedetl_sn: 'PED-draft', fee_ocur_time: '2026-03-02T11:30:00+08:00', med_list_codg: 'DRUG-PED', list_type: 'drug', med_chrgitm_type: '11' }] }),
    ]
    for (const who of ['precheck', 'monitor', 'admin'] as const) {
      const checked = await post(who, 'POST', '/api/v1/precheck', { events: draft }) as { findings: { evidence: Record<string, unknown> }[] }
      expect(checked.findings.some((f) => JSON.stringify(f.evidence).includes('brdy'))).toBe(true)
    }
    const created = await post('admin', 'POST', '/api/v1/cases', { title: '隐私测试案件', subject: { kind: 'person', psn_no: persons[0]!.psn_no }, alert_ids: idsA.slice(0, 6) }) as { case: { case_id: string } }
    const caseId = created.case.case_id
    await post('admin', 'PATCH', `/api/v1/cases/${caseId}`, { version: 1, add_alert_ids: idsA.slice(6, 9) })
    for (const who of ['admin', 'inspector'] as const) {
      await get(who, '/api/v1/cases')
      await get(who, `/api/v1/cases/${caseId}`)
      await get(who, `/api/v1/cases/${caseId}/evidence`)
    }
    await get('admin', `/api/v1/cases/${caseId}/evidence?purpose=${encodeURIComponent('管理员想看')}`)
    await get('admin', `/api/v1/cases/${caseId}/evidence.zip?purpose=${encodeURIComponent('归档')}`)
    // A one-character purpose is no purpose: refused, and not logged.
    expect((await fx.call('inspector', 'GET', `/api/v1/cases/${caseId}/evidence.zip?purpose=x`)).statusCode).toBe(400)
    await get('admin', '/api/v1/users')
    await get('admin', '/api/v1/access-log?limit=500')

    expect(captured.length).toBeGreaterThan(100)
    const found = captured.flatMap((c) => leaks(c.text).map((l) => `${c.where}: ${l}`))
    expect(found).toEqual([])
  })

  it('logs nothing personal either', async () => {
    expect(fx.app.logs.raw.length).toBeGreaterThan(0)
    const found = fx.app.logs.raw.flatMap((line) => leaks(line))
    expect(found).toEqual([])
  })

  it('writes exactly one access-log row per evidence view and export', async () => {
    const rows = await fx.app.store.query<{ action: string; c: string }>(`SELECT action, count() c FROM ${fx.app.store.t('evidence_access_log')} GROUP BY action ORDER BY action`)
    expect(Object.fromEntries(rows.map((r) => [r.action, Number(r.c)]))).toEqual({ export: exports, view: evidenceViews })
  })
})
