import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isValidCertno } from '../../schemas/common.ts'
import type { Source } from '../../src/pipeline/types.ts'
import { mutate } from '../helpers/malformed.ts'
import { INST_A, INST_B, fixture, people, type Fixture, type TokenName } from './fixture.ts'

/**
 * Refused records through the admin API (issue 15, "Rejected records"): reason
 * counts per China day, a keyset-paginated list, one record's detail, an
 * export. Admin is not the inspector role, so a refused record's 身份证号,
 * name and birthday never leave unmasked — whether the record parses or not —
 * and every detail view and export is in the access log.
 */
let fx: Fixture
const [pa, pb, pc] = [...people(2, INST_A, 500), ...people(1, INST_B, 600)]
const bodies: { where: string; text: string }[] = []

const ID18 = /(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])/g
function leaks(text: string): string[] {
  const found: string[] = []
  for (const m of text.matchAll(ID18)) if (isValidCertno(m[0].toUpperCase())) found.push(`id:${m[0]}`)
  for (const p of [pa!, pb!, pc!]) {
    if (text.includes(p.certno)) found.push(`certno:${p.certno}`)
    if (text.includes(p.psn_name)) found.push(`name:${p.psn_name}`)
    if (text.includes(p.brdy)) found.push(`brdy:${p.brdy}`)
  }
  return found
}

// A visit of INST_A with two problems (psn_no a number, begntime not a time), carrying a person's ID number, name and birthday.
const twoProblems = mutate('visit.opened', (e) => {
  e.event_id = 'dlq-api-1'
  e.source.fixmedins_code = INST_A
  e.payload.psn_no = 12345
  e.payload.begntime = 'yesterday'
  e.payload.psn = { ...e.payload.psn, certno: pa!.certno, psn_name: pa!.psn_name, brdy: pa!.brdy }
  // An ID number under a key that is not a personal field still counts as one.
  e.payload.vendor_extension = { note: `patient ${pa!.certno}` }
})
// The same person's record cut off mid-way: not JSON, so only the text-level masking can catch it.
const cutOff = Buffer.from(`{"event_id":"dlq-api-2","source":{"fixmedins_code":"${INST_A}"},"payload":{"psn":{"brdy":"${pb!.brdy}","psn_name":"${pb!.psn_name}","certno":"${pb!.certno}`)
// Beijing's: only unscoped admins and admins of 1101 see it.
const beijing = mutate('visit.opened', (e) => {
  e.event_id = 'dlq-api-3'
  e.source.fixmedins_code = INST_B
  e.payload.psn_no = 7
  e.payload.psn = { ...e.payload.psn, certno: pc!.certno, psn_name: pc!.psn_name, brdy: pc!.brdy }
})
// Not UTF-8, with an ID number in it: shown decoded with U+FFFD, the ID number masked.
const notUtf8 = Buffer.concat([Buffer.from(`{"certno":"${pc!.certno}","x":"`), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])

async function refuse(records: [Buffer, string][]): Promise<number> {
  const source: Source = { name: 'test', async *batches() { yield { records: records.map(([value, pos]) => ({ value, pos, owner: 'test' })) } } }
  const r = await fx.app.pipeline({ now: fx.clock.now }).run(source, new AbortController().signal)
  return r.rejected
}

async function get(who: TokenName, url: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const r = await fx.call(who, 'GET', url)
  bodies.push({ where: `${who} ${url}`, text: r.body })
  return { status: r.statusCode, body: r.body, headers: r.headers }
}

type Summary = { dlq_id: string; reason: string; source: string; received_at: string; fixmedins_code: string | null; bytes: number }
type Listing = { counts: { day: string; reason: string; count: number }[]; total: number; dead_letters: Summary[]; next?: string }
type Detail = Summary & { detail: string; raw_text: string; raw_utf8: boolean }
const idOf = (l: Listing, source: string) => l.dead_letters.find((d) => d.source === source)!.dlq_id

beforeAll(async () => {
  fx = await fixture()
  // Two China days: 2026-03-02 and 2026-03-03.
  expect(await refuse([[twoProblems, 'in.jsonl:1'], [cutOff, 'in.jsonl:2']])).toBe(2)
  fx.clock.advanceDays(1)
  expect(await refuse([[beijing, 'fundwatch.claims.v1/3/41'], [notUtf8, 'fundwatch.claims.v1/3/42']])).toBe(2)
})
afterAll(async () => {
  await fx?.close()
})

describe('dead letters (admin API)', () => {
  it('counts per China day and reason over the window, and the list newest first with a keyset cursor', async () => {
    const r = await get('admin', '/api/v1/dead-letters?limit=3')
    expect(r.status).toBe(200)
    const l = JSON.parse(r.body) as Listing
    expect(l.total).toBe(4)
    expect(l.counts).toEqual([
      { day: '2026-03-02', reason: 'not_json', count: 1 },
      { day: '2026-03-02', reason: 'schema.invalid_type@payload.psn_no', count: 1 },
      { day: '2026-03-03', reason: 'bad_encoding', count: 1 },
      { day: '2026-03-03', reason: 'schema.invalid_type@payload.psn_no', count: 1 },
    ])
    expect(l.dead_letters).toHaveLength(3)
    expect(l.dead_letters.slice(0, 2).map((d) => d.source).sort()).toEqual(['fundwatch.claims.v1/3/41', 'fundwatch.claims.v1/3/42'])
    expect(l.dead_letters.find((d) => d.source === 'fundwatch.claims.v1/3/41')!.fixmedins_code).toBe(INST_B)
    expect(l.dead_letters.find((d) => d.source === 'fundwatch.claims.v1/3/42')!.fixmedins_code).toBeNull()
    const next = JSON.parse((await get('admin', `/api/v1/dead-letters?limit=3&cursor=${l.next!}`)).body) as Listing
    expect(next.next).toBeUndefined()
    expect(next.dead_letters).toHaveLength(1)
    // The two pages together are every record once.
    expect(new Set([...l.dead_letters, ...next.dead_letters].map((d) => d.dlq_id)).size).toBe(4)
  })

  it('filters by reason, time and source', async () => {
    const byReason = JSON.parse((await get('admin', '/api/v1/dead-letters?reason=not_json')).body) as Listing
    expect(byReason.dead_letters.map((d) => d.source)).toEqual(['in.jsonl:2'])
    const byDay = JSON.parse((await get('admin', '/api/v1/dead-letters?from=2026-03-03&to=2026-03-03')).body) as Listing
    expect(byDay.total).toBe(2)
    expect(byDay.counts.every((c) => c.day === '2026-03-03')).toBe(true)
    const bySource = JSON.parse((await get('admin', '/api/v1/dead-letters?source=fundwatch.claims.v1/3')).body) as Listing
    expect(bySource.dead_letters.map((d) => d.source).sort()).toEqual(['fundwatch.claims.v1/3/41', 'fundwatch.claims.v1/3/42'])
    // Before the records: the default window (30 China days up to today) holds them, one ending earlier does not.
    expect((JSON.parse((await get('admin', '/api/v1/dead-letters?from=2026-02-01&to=2026-03-01')).body) as Listing).total).toBe(0)
    expect((await get('admin', '/api/v1/dead-letters?from=2024-01-01')).status).toBe(400)
  })

  it('a scoped admin sees only dead letters whose envelope names an institution in its scope (not the unparseable ones)', async () => {
    const all = JSON.parse((await get('admin', '/api/v1/dead-letters')).body) as Listing
    const scoped = JSON.parse((await get('adminA', '/api/v1/dead-letters')).body) as Listing
    expect(all.total).toBe(4)
    // The cut-off record names INST_A in its text, but what does not parse names no institution: unscoped admins only.
    expect(scoped.dead_letters.map((d) => [d.source, d.fixmedins_code])).toEqual([['in.jsonl:1', INST_A]])
    expect(scoped.total).toBe(1)
    expect(scoped.counts).toEqual([{ day: '2026-03-02', reason: 'schema.invalid_type@payload.psn_no', count: 1 }])
    // Beijing's record and the unparseable one are not found, like an unknown id.
    expect((await get('adminA', `/api/v1/dead-letters/${idOf(all, 'fundwatch.claims.v1/3/41')}`)).status).toBe(404)
    expect((await get('adminA', `/api/v1/dead-letters/${idOf(all, 'fundwatch.claims.v1/3/42')}`)).status).toBe(404)
    expect((await get('adminA', `/api/v1/dead-letters/${idOf(all, 'in.jsonl:2')}`)).status).toBe(404)
    expect((await get('adminA', `/api/v1/dead-letters/${idOf(all, 'in.jsonl:1')}`)).status).toBe(200)
    const exported = (await get('adminA', '/api/v1/dead-letters/export')).body.trim().split('\n')
    expect(exported).toHaveLength(1)
  })

  it('one record: reason, every validation problem, source, received_at, and the raw record masked', async () => {
    const all = JSON.parse((await get('admin', '/api/v1/dead-letters')).body) as Listing
    const r = await get('admin', `/api/v1/dead-letters/${idOf(all, 'in.jsonl:1')}`)
    expect(r.status).toBe(200)
    expect(r.headers['cache-control']).toBe('no-store')
    const d = (JSON.parse(r.body) as { dead_letter: Detail }).dead_letter
    expect(d).toMatchObject({ reason: 'schema.invalid_type@payload.psn_no', source: 'in.jsonl:1', received_at: '2026-03-02T14:00:00+08:00', fixmedins_code: INST_A, raw_utf8: true })
    expect(d.detail.split('\n')).toHaveLength(2)
    expect(d.detail).toMatch(/^payload\.psn_no: .*\npayload\.begntime: /)
    const raw = JSON.parse(d.raw_text) as { payload: { psn: Record<string, string>; psn_no: number; vendor_extension: { note: string } } }
    expect(raw.payload.psn_no).toBe(12345)
    expect(raw.payload.psn).toMatchObject({ certno: `${pa!.certno.slice(0, 6)}********${pa!.certno.slice(-4)}`, psn_name: `${pa!.psn_name[0]}${'*'.repeat(pa!.psn_name.length - 1)}`, brdy: pa!.brdy.slice(0, 4) })
    expect(raw.payload.vendor_extension.note).toBe(`patient ${pa!.certno.slice(0, 6)}********${pa!.certno.slice(-4)}`)

    const cut = (JSON.parse((await get('admin', `/api/v1/dead-letters/${idOf(all, 'in.jsonl:2')}`)).body) as { dead_letter: Detail }).dead_letter
    expect(cut).toMatchObject({ reason: 'not_json', fixmedins_code: null })
    expect(cut.raw_text).toContain(`"psn_name":"${pb!.psn_name[0]}*`)
    expect(cut.raw_text).toContain(`"brdy":"${pb!.brdy.slice(0, 4)}"`)
    expect(cut.raw_text).toContain(`"certno":"${pb!.certno.slice(0, 6)}********`)

    const bin = (JSON.parse((await get('admin', `/api/v1/dead-letters/${idOf(all, 'fundwatch.claims.v1/3/42')}`)).body) as { dead_letter: Detail }).dead_letter
    expect(bin).toMatchObject({ reason: 'bad_encoding', raw_utf8: false, fixmedins_code: null })
    expect(bin.raw_text).toContain('\uFFFD')
    expect(bin).not.toHaveProperty('raw_base64')
  })

  it('the export is JSON lines of masked records, bounded, with a cursor to continue', async () => {
    const r = await get('admin', '/api/v1/dead-letters/export?limit=3')
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toMatch(/^application\/x-ndjson/)
    expect(r.headers['cache-control']).toBe('no-store')
    expect(r.headers['x-records']).toBe('3')
    const lines = r.body.trim().split('\n').map((l) => JSON.parse(l) as Detail)
    expect(lines.map((l) => l.received_at)).toEqual([...lines.map((l) => l.received_at)].sort().reverse())
    expect(lines.every((l) => typeof l.raw_text === 'string' && typeof l.detail === 'string')).toBe(true)
    const rest = await get('admin', `/api/v1/dead-letters/export?cursor=${String(r.headers['x-next-cursor'])}`)
    expect(rest.body.trim().split('\n')).toHaveLength(1)
    expect(rest.headers['x-next-cursor']).toBeUndefined()
  })

  it('views and exports are in the access log, one entry per record', async () => {
    const all = JSON.parse((await get('admin', '/api/v1/dead-letters')).body) as Listing
    const id = idOf(all, 'in.jsonl:1')
    const log = JSON.parse((await fx.call('admin', 'GET', `/api/v1/access-log?object_id=${id}&limit=500`)).body) as { entries: { object_type: string; action: string; user_id: string; revealed: boolean }[] }
    const mine = log.entries.filter((e) => e.object_type === 'dead_letter')
    expect(mine.filter((e) => e.action === 'view' && e.user_id === fx.ids.admin)).toHaveLength(1)
    expect(mine.filter((e) => e.action === 'view' && e.user_id === fx.ids.adminA)).toHaveLength(1)
    // Exported once by admin (in the first page of three or in the rest) and once by adminA.
    expect(mine.filter((e) => e.action === 'export').map((e) => e.user_id).sort()).toEqual([fx.ids.admin, fx.ids.adminA].sort())
    expect(mine.every((e) => !e.revealed)).toBe(true)
    // The list alone shows no record's contents and is not logged: the Beijing record was only listed and exported.
    const bj = JSON.parse((await fx.call('admin', 'GET', `/api/v1/access-log?object_id=${idOf(all, 'fundwatch.claims.v1/3/41')}`)).body) as { entries: { action: string }[] }
    expect(bj.entries.map((e) => e.action)).toEqual(['export'])
  })

  it('no response carried an ID number, a name or a birthday unmasked', () => {
    expect(bodies.length).toBeGreaterThan(10)
    const found = bodies.flatMap((b) => leaks(b.text).map((l) => `${b.where}: ${l}`))
    expect(found).toEqual([])
  })
})
