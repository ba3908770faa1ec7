import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { buildServer } from '../../src/api/server.ts'
import { Users } from '../../src/auth/users.ts'
import { replayFile } from '../../src/cli/replay.ts'
import { HOSPITAL, feeReversed, feeUploaded, institution, item, makeKb, visitOpened } from '../helpers/detect.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const kb = makeKb({
  institutions: [institution(HOSPITAL, { level: 2 })],
  catalog: [
    item('SVC-OBST', { name: '产前检查', gend: '2' }),
    item('SVC-CT', { name: 'CT平扫', min_hosp_lv: 3 }),
    item('DRUG-A', { list_type: 'drug', med_chrgitm_type: '09' }),
  ],
})

const t = (d: number, h: number) => `2026-03-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00+08:00`
const events: AnyEvent[] = [
  visitOpened({ event_id: 'p-open-1', mdtrt_id: 'MDT1', begntime: t(2, 9), med_type: '11', gend: '1' }),
  feeUploaded({
    event_id: 'p-fee-1', mdtrt_id: 'MDT1',
    lines: [
      { feedetl_sn: 'L1', fee_ocur_time: t(2, 10), med_list_codg: 'DRUG-A', list_type: 'drug', med_chrgitm_type: '09' },
      { feedetl_sn: 'L2', fee_ocur_time: t(2, 10), med_list_codg: 'DRUG-A', list_type: 'drug', med_chrgitm_type: '09' }, // duplicate of L1
      { feedetl_sn: 'L3', fee_ocur_time: t(2, 11), med_list_codg: 'SVC-OBST' }, // obstetric item for a man
      { feedetl_sn: 'L4', fee_ocur_time: t(2, 11), med_list_codg: 'SVC-CT' }, // level-3 item at a level-2 hospital
    ],
  }),
  feeReversed({ event_id: 'p-rev-1', mdtrt_id: 'MDT1', feedetl_sns: ['L4'], time: t(2, 12) }),
]
const malformed = ['{not json', JSON.stringify({ ...events[0], event_type: 'visit.teleported' }), JSON.stringify({ ...events[1], schema_version: 3 })]

let app: TestApp
let file: string
beforeAll(async () => {
  app = await testApp({ kb })
  file = join(mkdtempSync(join(tmpdir(), 'fw-replay-')), 'events.jsonl')
  // Blank lines, empty or whitespace only, are not records: skipped and counted, never dead letters.
  const lines = [...events.map((e) => JSON.stringify(e)), '', '  \t', ...malformed, '\r']
  writeFileSync(file, lines.join('\n') + '\n')
})
afterAll(async () => app?.close())

const count = async (sql: string) => Number((await app.store.query<{ c: string }>(sql))[0]!.c)

describe('replay into chDB', () => {
  it('stores every valid event once, its typed rows, and every bad record as a dead letter', async () => {
    const r = await replayFile(app, file, { batchSize: 2 })
    expect(r.events).toBe(3)
    expect(r.rejected).toBe(3)
    expect(r.blankLines).toBe(3)
    expect(Object.keys(r.rejectedByReason).sort()).toEqual(['not_json', 'unknown_event_type', 'unsupported_schema_version'])
    expect(await count(`SELECT count() c FROM ${app.store.t('events')} FINAL`)).toBe(3)
    expect(await count(`SELECT count() c FROM ${app.store.t('fee_lines')} FINAL`)).toBe(4)
    expect(await count(`SELECT count() c FROM ${app.store.t('fee_reversals')} FINAL`)).toBe(1)
    const dl = await app.store.query<{ reason: string; source: string; raw_base64: string }>(`SELECT reason, source, raw_base64 FROM ${app.store.t('dead_letters')} FINAL ORDER BY source`)
    expect(dl.map((d) => d.reason).sort()).toEqual(['not_json', 'unknown_event_type', 'unsupported_schema_version'])
    expect(Buffer.from(dl.find((d) => d.reason === 'not_json')!.raw_base64, 'base64').toString()).toBe('{not json')
  })

  it('raises the alerts the facts call for, with refs to the lines', async () => {
    const alerts = await app.store.query<{ detector_id: string; feedetl_sns: string[] }>(`SELECT detector_id, feedetl_sns FROM ${app.store.t('alerts')} FINAL ORDER BY detector_id`)
    const sns = (id: string) => alerts.filter((a) => a.detector_id === id).flatMap((a) => a.feedetl_sns).sort()
    expect(sns('duplicate-charge')).toContain('L2')
    const restricted = sns('restricted-item')
    // L4 (level) was found before its reversal arrived: the alert stands, the reversal is on record for the reviewer.
    expect(restricted).toEqual(['L3', 'L4'])
  })

  it('changes nothing when the same file is replayed again (deterministic ids, dedup on merge)', async () => {
    const before = await app.store.query(`SELECT alert_id FROM ${app.store.t('alerts')} FINAL ORDER BY alert_id`)
    await replayFile(app, file, { batchSize: 3 })
    for (const table of ['events', 'fee_lines', 'fee_reversals', 'alerts', 'dead_letters']) await app.store.command(`OPTIMIZE TABLE ${app.store.t(table)} FINAL`)
    expect(await count(`SELECT count() c FROM ${app.store.t('events')}`)).toBe(3)
    expect(await count(`SELECT count() c FROM ${app.store.t('fee_lines')}`)).toBe(4)
    expect(await count(`SELECT count() c FROM ${app.store.t('dead_letters')}`)).toBe(3)
    expect(await app.store.query(`SELECT alert_id FROM ${app.store.t('alerts')} ORDER BY alert_id`)).toEqual(before)
  })

  it('serves the alerts newest first over HTTP and counts events on /metrics', async () => {
    const server = await buildServer(app, { webDir: false })
    expect((await server.inject({ method: 'GET', url: '/api/v1/alerts?limit=2' })).statusCode).toBe(401)
    const { token } = await new Users(app.store).create({ name: 'pipeline test', role: 'monitor' }, 'cli')
    const headers = { authorization: `Bearer ${token}` }
    const res = await server.inject({ method: 'GET', url: '/api/v1/alerts?limit=1', headers })
    expect(res.statusCode).toBe(200)
    const body = res.json() as { alerts: { detected_at: string; alert_id: string }[]; next?: string }
    expect(body.alerts).toHaveLength(1)
    expect(body.next).toBeTypeOf('string')
    const page2 = (await server.inject({ method: 'GET', url: `/api/v1/alerts?limit=2&cursor=${body.next}`, headers })).json() as { alerts: { alert_id: string }[] }
    const ids = [...body.alerts, ...page2.alerts].map((a) => a.alert_id)
    expect(new Set(ids).size).toBe(ids.length)
    // The CT line (L4) was reversed: its alert is withdrawn, out of the default feed, still stored and listed on request.
    expect(ids.length).toBe(await count(`SELECT count() c FROM ${app.store.t('alerts')} FINAL WHERE status != 'withdrawn'`))
    const withdrawn = (await server.inject({ method: 'GET', url: '/api/v1/alerts?lifecycle=withdrawn', headers })).json() as { alerts: { alert_id: string; status: string; withdrawn_reason?: string; revision_event_id?: string; refs: { feedetl_sns: string[] } }[] }
    expect(withdrawn.alerts.map((a) => [a.status, a.withdrawn_reason, a.revision_event_id, a.refs.feedetl_sns])).toEqual([['withdrawn', 'reversed', 'p-rev-1', ['L4']]])
    expect(ids).not.toContain(withdrawn.alerts[0]!.alert_id)
    const all = (await server.inject({ method: 'GET', url: '/api/v1/alerts?lifecycle=all&limit=50', headers })).json() as { alerts: unknown[] }
    expect(all.alerts).toHaveLength(ids.length + 1)
    const bad = await server.inject({ method: 'GET', url: '/api/v1/alerts?cursor=bm9wZQ', headers })
    expect(bad.statusCode).toBe(400)
    const metrics = (await server.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toMatch(/fundwatch_events_in_total\{type="fee.uploaded"\} 2/)
    expect(metrics).toMatch(/fundwatch_events_rejected_total\{reason="not_json"\} 2/)
    expect(metrics).toMatch(/fundwatch_alerts_total\{detector="duplicate-charge",severity="\w+"\} \d/)
    const health = await server.inject({ method: 'GET', url: '/healthz' })
    expect(health.json()).toMatchObject({ status: 'ok', kb: 'test' })
    await server.close()
  })
})

describe('dead-letter ids', () => {
  it('a dead letter is never overwritten by another file of the same name (regression: ids were sha256(basename:line))', async () => {
    const a = join(mkdtempSync(join(tmpdir(), 'fw-dl-a-')), 'export.jsonl')
    const b = join(mkdtempSync(join(tmpdir(), 'fw-dl-b-')), 'export.jsonl')
    writeFileSync(a, '{from file a\n')
    writeFileSync(b, '{from file b\n')
    await replayFile(app, a)
    await replayFile(app, b)
    const raw = await deadLetterTexts()
    expect(raw).toContain('{from file a')
    expect(raw).toContain('{from file b')
    const sources = await app.store.query<{ source: string }>(`SELECT source FROM ${app.store.t('dead_letters')} FINAL`)
    expect(sources.map((d) => d.source)).toEqual(expect.arrayContaining([`${a}:1`, `${b}:1`]))
  })

  it('a line rewritten between two replays of one file keeps both dead letters', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'fw-dl-c-')), 'export.jsonl')
    writeFileSync(f, '{first version\n')
    await replayFile(app, f)
    writeFileSync(f, '{second version\n')
    await replayFile(app, f)
    const raw = await deadLetterTexts()
    expect(raw).toContain('{first version')
    expect(raw).toContain('{second version')
  })

  const deadLetterTexts = async () =>
    (await app.store.query<{ raw_base64: string }>(`SELECT raw_base64 FROM ${app.store.t('dead_letters')} FINAL`)).map((d) => Buffer.from(d.raw_base64, 'base64').toString())
})
