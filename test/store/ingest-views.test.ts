import { createHash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { createGenerator } from '../../src/generator/generate.ts'
import { NationalWriter } from '../../src/generator/national.ts'
import { writeKnowledgeBase } from '../../src/kb/loader.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import type { SourceRecord } from '../../src/pipeline/types.ts'
import { migrate } from '../../src/store/migrations.ts'
import { Store } from '../../src/store/store.ts'
import { ingestBody, type IngestLine } from '../../src/store/rows.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'
import { EVENT_TABLES, addEventRows, emptyEventRows } from '../helpers/legacy-rows.ts'

/**
 * Migration 14 moved the typed rows of a stored event from JavaScript
 * (addEventRows, kept as test/helpers/legacy-rows.ts) into the ingest views.
 * The same generated stream — contract and national records, reversals by
 * line and by charge batch, cancellations, updates, inventory, reversals that
 * name no person (admission resolves them from the visit owner), and records
 * written to stress the extraction (pretty-printed with tabs and newlines,
 * escapes, a backslash in an id, microseconds, another offset, fields left
 * out) — goes through the real pipeline into the views, and each ingest line
 * the pipeline wrote is also turned into rows by the old JavaScript, into a
 * second database. Every typed table and `events` must hold the same rows.
 */
const dir = mkdtempSync(join(tmpdir(), 'fw-ingest-views-'))
let app: TestApp
let oracle: Store
const stats = { national: 0, legacy: 0, chargeBatch: 0, stressed: 0 }
const byType = new Map<string, number>()

function records(): SourceRecord[] {
  const kb = sampleKnowledgeBase()
  const gen = createGenerator({ seed: 1313, persons: 60, days: 30, fraudRate: 0.2, kb })
  const national = new NationalWriter(gen.kb)
  const out: SourceRecord[] = []
  const seen: AnyEvent[] = []
  const extras: object[] = []
  const bucket = (psn: string) => createHash('sha256').update(psn).digest()[0]! % 4
  let n = 0
  for (const { event } of gen) {
    // Every event goes through the writer, so its visit context stays whole.
    const nat = national.write(event)
    const psn = event.event_type === 'inventory.movement' ? '' : event.payload.psn_no
    const pos = `equiv:${++n}`
    if (psn && bucket(psn) === 0) {
      out.push({ value: Buffer.from(JSON.stringify(nat)), pos, owner: 'equiv', format: 'national' })
      stats.national++
      continue
    }
    const doc = structuredClone(event) as unknown as { event_id: string; event_time: string; payload: Record<string, unknown> }
    let text = JSON.stringify(doc)
    if ((event.event_type === 'fee.reversed' || event.event_type === 'settlement.reversed') && psn && bucket(psn) === 1) {
      // The earlier form: no psn_no (the pipeline finds the person from the visit).
      delete doc.payload.psn_no
      text = JSON.stringify(doc)
      stats.legacy++
    } else if (psn && bucket(psn) === 2 && n % 5 === 0) {
      // Bytes as a producer may send them: pretty-printed, a backslash in the id (every other one: the rest hold
      // tabs, newlines and a carriage return and no backslash), microseconds and another offset.
      if (n % 10 === 0) doc.event_id = `${doc.event_id}\\x`
      doc.event_time = doc.event_time.replace(/(\d\d:\d\d:\d\d)\+08:00$/, (_m, hms: string) => `${hms}.123456+08:00`)
      if (event.event_type === 'fee.uploaded') {
        const lines = doc.payload.lines as Record<string, unknown>[]
        lines[0]!.fee_ocur_time = new Date(Date.parse(String(lines[0]!.fee_ocur_time)) + 1).toISOString().replace('Z', '+00:00').replace(/T(\d\d)/, (_m, h: string) => `T${h}`)
        lines[0]!.chrg_bchno = 42
        lines[0]!.hours = '1.5'
        lines[0]!.note = 'tab\there, quote " and 中文 \u0001'
      }
      text = JSON.stringify(doc, null, '\t').replace('"event_type"', '"event_type"\r')
      stats.stressed++
    }
    out.push({ value: Buffer.from(text), pos, owner: 'equiv' })
    if (psn && bucket(psn) !== 0) seen.push(event)
  }
  // Kinds the generator makes rarely or never, each about a visit stored above: reversals of
  // settlements (with and without the person), of lines by charge batch and in the earlier
  // form, cancellations of a visit and of a discharge, an update that gives no diagnoses.
  const later = (e: AnyEvent) => new Date(Date.parse(e.event_time) + 60_000).toISOString().replace('Z', '+00:00')
  const extra = (e: AnyEvent, event_type: string, payload: Record<string, unknown>) =>
    ({ event_id: `EQ-${extras.length}`, event_type, event_time: later(e), schema_version: 1, source: e.source, payload })
  const of = (t: string) => seen.filter((e) => e.event_type === t)
  for (const [i, e] of of('settlement.completed').slice(0, 4).entries()) {
    const p = e.payload as { setl_id: string; mdtrt_id: string; psn_no: string }
    extras.push(extra(e, 'settlement.reversed', i % 2 ? { setl_id: p.setl_id, mdtrt_id: p.mdtrt_id } : { setl_id: p.setl_id, mdtrt_id: p.mdtrt_id, psn_no: p.psn_no }))
  }
  for (const [i, e] of of('fee.uploaded').slice(0, 6).entries()) {
    const p = e.payload as { mdtrt_id: string; psn_no: string; lines: { feedetl_sn: string; chrg_bchno?: string }[] }
    const batch = p.lines.find((l) => l.chrg_bchno)?.chrg_bchno
    if (i % 2 === 0 && batch) extras.push(extra(e, 'fee.reversed', { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, chrg_bchno: batch }))
    else extras.push(extra(e, 'fee.reversed', { mdtrt_id: p.mdtrt_id, feedetl_sns: [p.lines[0]!.feedetl_sn] }))
  }
  for (const [i, e] of of('visit.opened').slice(0, 4).entries()) {
    const p = e.payload as { mdtrt_id: string; psn_no: string; adm_dept_codg: string }
    extras.push(i < 2 ? extra(e, 'visit.cancelled', { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, cancels: i ? 'discharge' : 'visit' })
      : extra(e, 'visit.updated', { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, adm_dept_codg: p.adm_dept_codg }))
  }
  for (const e of extras) out.push({ value: Buffer.from(JSON.stringify(e)), pos: `equiv:${out.length + 1}`, owner: 'equiv' })
  return out
}

beforeAll(async () => {
  const gen = createGenerator({ seed: 1313, persons: 60, days: 30, fraudRate: 0.2, kb: sampleKnowledgeBase() })
  for (const _ of gen) void _
  await writeKnowledgeBase(join(dir, 'kb'), gen.kb, 'jsonl')
  app = await testApp({ dataDir: join(dir, 'data'), env: { FUNDWATCH_KB: join(dir, 'kb') } })
  oracle = await Store.open({ dataDir: join(dir, 'data'), database: `${app.store.db}_oracle` })
  await migrate(oracle)
}, 120_000)
afterAll(async () => {
  await app?.close()
  removeDir(dir)
})

/** The event an ingest line stands for, as the pipeline held it: the contract JSON, with the person and lines admission resolved. */
function eventOf(line: IngestLine): { ev: AnyEvent; raw: string; pos: string; at: string } {
  const unescape = (s: string) => s.replace(/\\(.)/g, (_m, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c)
  const [, , psn, sns, pos, at, raw, doc] = ingestBody([line]).toString().slice(0, -1).split('\t').map(unescape)
  const ev = JSON.parse(doc || raw!) as AnyEvent
  if (ev.event_type !== 'inventory.movement') ev.payload.psn_no = psn!
  if (ev.event_type === 'fee.reversed' && sns !== '[]') ev.payload.feedetl_sns = sns!.slice(2, -2).split("','")
  return { ev, raw: raw!, pos: pos!, at: at! }
}

describe('ingest views (migration 14)', () => {
  it('store exactly the rows the JavaScript rows did, in events and every typed table', async () => {
    const recs = records()
    const p = app.pipeline()
    const signal = new AbortController().signal
    for (let i = 0; i < recs.length; i += 500) {
      const batch = await p.prepare({ records: recs.slice(i, i + 500) }, signal)
      const rows = emptyEventRows()
      for (const line of batch.rows.ingest) {
        const { ev, raw, pos, at } = eventOf(line)
        if (ev.event_type === 'fee.reversed' && ev.payload.chrg_bchno !== undefined) stats.chargeBatch++
        byType.set(ev.event_type, (byType.get(ev.event_type) ?? 0) + 1)
        addEventRows(rows, ev, raw, pos, at)
      }
      for (const t of EVENT_TABLES) await oracle.insert(t, rows[t])
      await p.persist(batch, signal)
    }
    for (const t of EVENT_TABLES) {
      const q = (s: Store) => s.query<Record<string, unknown>>(`SELECT * FROM ${s.t(t)} ORDER BY ALL`)
      const [viaViews, viaJs] = await Promise.all([q(app.store), q(oracle)])
      expect(viaJs.length, t).toBeGreaterThan(0)
      expect(viaViews, t).toEqual(viaJs)
    }
    // The stream holds what the test is about (else it could pass on nothing).
    expect(stats.national).toBeGreaterThan(50)
    expect(stats.stressed).toBeGreaterThan(5)
    expect(stats.chargeBatch).toBeGreaterThan(0)
    for (const t of ['visit.opened', 'visit.updated', 'visit.cancelled', 'visit.closed', 'fee.uploaded', 'fee.reversed', 'settlement.completed', 'settlement.reversed', 'inventory.movement']) {
      expect(byType.get(t) ?? 0, t).toBeGreaterThan(0)
    }
    // events.raw holds each record's bytes as received: tabs, carriage returns, backslashes and all.
    const sentBytes = new Map(recs.map((r) => [r.pos, r.value.toString('utf8')]))
    const stored = await app.store.query<{ source_pos: string; raw: string }>(`SELECT source_pos, raw FROM ${app.store.t('events')} FINAL`)
    expect(stored.length).toBeGreaterThan(recs.length / 2)
    const differ = stored.filter((r) => r.raw !== sentBytes.get(r.source_pos))
    expect(differ.slice(0, 3)).toEqual([])
    expect(stored.filter((r) => /[\t\r\\]/.test(r.raw)).length).toBeGreaterThan(stats.stressed / 2)
    // Reversals that named no person, stored with the one admission found.
    const unresolved = await app.store.query<{ n: string }>(`SELECT count() AS n FROM ${app.store.t('events')} WHERE event_type IN ('fee.reversed', 'settlement.reversed') AND NOT position(raw, '"psn_no"')`)
    expect(Number(unresolved[0]!.n)).toBeGreaterThan(0)

  }, 240_000)
})
