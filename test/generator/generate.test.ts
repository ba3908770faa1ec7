import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { AnyEvent, isValidCertno, type EventOf } from '../../schemas/index.ts'
import { PATTERNS, type PatternId } from '../../src/detect/patterns.ts'
import { FundwatchError } from '../../src/errors.ts'
import { createGenerator, writeDataset, type Generator } from '../../src/generator/generate.ts'
import { alertMatchesLabel, type Label } from '../../src/generator/labels.ts'
import { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { loadKnowledgeBase } from '../../src/kb/loader.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import { MsgIds } from '../../src/generator/world.ts'
import { oracle, type OracleFinding } from './oracle.ts'

/** Where a seed's own allocator starts its sequences (the last 4 digits of its first id in a fresh second). */
const seqStart = (seed: number) => Number(new MsgIds(seed).next('H00000000000', 0).slice(-4))

const START = Date.parse('2026-03-02T00:00:00+08:00')
const DAYS = 30
const kbData = sampleKnowledgeBase()

let gen: Generator
let events: AnyEvent[]
let topics: string[]
let kb: KnowledgeBase

beforeAll(() => {
  gen = createGenerator({ seed: 11, persons: 1200, days: DAYS, startTime: START, fraudRate: 0.02, kb: kbData })
  events = []
  topics = []
  for (const { event, topic } of gen) {
    events.push(event)
    topics.push(topic)
  }
  kb = new KnowledgeBase(gen.kb)
})

const fen = (s: string): number => Math.round(Number(s) * 100)
const of = <T extends AnyEvent['event_type']>(t: T): EventOf<T>[] => events.filter((e): e is EventOf<T> => e.event_type === t)
const asAlert = (f: OracleFinding) => ({ detector: { id: f.pattern }, refs: { ...f.refs, event_ids: [] }, subject: { fixmedins_code: f.fixmedins_code, ...(f.psn_no ? { psn_no: f.psn_no } : {}) } })
const labelled = (pattern: PatternId, sn: string): boolean => gen.labels.some((l) => l.pattern === pattern && l.refs.feedetl_sns.includes(sn))

function digest(g: Generator): string {
  const h = createHash('sha256')
  for (const { event, topic } of g) h.update(topic).update(JSON.stringify(event))
  return h.update(JSON.stringify(g.labels)).digest('hex')
}

describe('generator: the stream', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const opts = { persons: 150, days: DAYS, startTime: START, fraudRate: 0.02, kb: kbData }
    const a = digest(createGenerator({ seed: 5, ...opts }))
    expect(digest(createGenerator({ seed: 5, ...opts }))).toBe(a)
    expect(digest(createGenerator({ seed: 6, ...opts }))).not.toBe(a)
  })

  it('emits only valid events, on the right topic', () => {
    expect(events.length).toBeGreaterThan(10_000)
    const bad = events.map((e) => AnyEvent.safeParse(e)).filter((r) => !r.success)
    expect(bad.slice(0, 3).map((r) => r.error?.issues[0])).toEqual([])
    events.forEach((e, i) => expect(topics[i]).toBe(e.event_type === 'inventory.movement' ? 'inventory' : 'claims'))
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length)
    expect(new Set(events.map((e) => e.event_type))).toEqual(new Set(['visit.opened', 'visit.updated', 'fee.uploaded', 'fee.reversed', 'visit.closed', 'settlement.completed', 'settlement.reversed', 'inventory.movement']))
  })

  it('is in event-time order, in China time, inside [start, start + days)', () => {
    let last = 0
    for (const e of events) {
      expect(e.event_time.endsWith('+08:00')).toBe(true)
      const t = Date.parse(e.event_time)
      expect(t).toBeGreaterThanOrEqual(last)
      last = t
    }
    expect(Date.parse(events[0]!.event_time)).toBeGreaterThanOrEqual(START)
    expect(last).toBeLessThan(START + DAYS * 86_400_000)
  })

  it('bills every line exactly: cnt × pric = det_item_fee_sumamt, to the fen', () => {
    let n = 0
    for (const e of of('fee.uploaded')) {
      for (const l of e.payload.lines) {
        n++
        expect(Number(l.cnt)).toBeGreaterThan(0)
        expect(Math.round(Number(l.cnt) * fen(l.pric))).toBe(fen(l.det_item_fee_sumamt))
      }
    }
    expect(n).toBe(gen.stats.feeLines)
  })

  it('prices within the cap of the institution\'s level, except the labelled over-standard and level-restricted lines', () => {
    const visitInst = new Map(of('visit.opened').map((e) => [e.payload.mdtrt_id, e.source.fixmedins_code]))
    let checked = 0
    for (const e of of('fee.uploaded')) {
      const inst = kb.institutions.get(visitInst.get(e.payload.mdtrt_id)!)!
      for (const l of e.payload.lines) {
        const cap = kb.priceCap(kb.catalog.get(l.med_list_codg)!, inst.level)
        if (cap === undefined) expect(labelled('restricted-item', l.feedetl_sn), l.feedetl_sn).toBe(true)
        else if (Number(l.pric) > cap) expect(labelled('over-standard-charge', l.feedetl_sn), l.feedetl_sn).toBe(true)
        else checked++
      }
    }
    expect(checked).toBeGreaterThan(gen.stats.feeLines * 0.99)
  })

  it('settles every visit so the parts add up, on the lines that stand', () => {
    const lines = new Map<string, Map<string, number>>()
    const active = new Map<string, number>()
    let inpatient = 0
    for (const e of events) {
      if (e.event_type === 'fee.uploaded') {
        const m = lines.get(e.payload.mdtrt_id) ?? new Map<string, number>()
        for (const l of e.payload.lines) m.set(l.feedetl_sn, fen(l.det_item_fee_sumamt))
        lines.set(e.payload.mdtrt_id, m)
      }
      if (e.event_type === 'fee.reversed') for (const sn of e.payload.feedetl_sns!) lines.get(e.payload.mdtrt_id)!.delete(sn)
      if (e.event_type === 'settlement.reversed') active.set(e.payload.mdtrt_id, active.get(e.payload.mdtrt_id)! - 1)
      if (e.event_type === 'settlement.completed') {
        const p = e.payload
        expect(fen(p.medfee_sumamt)).toBe(fen(p.fund_pay_sumamt) + fen(p.acct_pay) + fen(p.psn_cash_pay))
        expect(fen(p.hifp_pay)).toBeLessThanOrEqual(fen(p.fund_pay_sumamt))
        expect(fen(p.inscp_scp_amt)).toBeLessThanOrEqual(fen(p.medfee_sumamt))
        expect(fen(p.fulamt_ownpay_amt)).toBeLessThanOrEqual(fen(p.medfee_sumamt))
        const sum = [...(lines.get(p.mdtrt_id)?.values() ?? [])].reduce((a, b) => a + b, 0)
        expect(fen(p.medfee_sumamt)).toBe(sum)
        active.set(p.mdtrt_id, (active.get(p.mdtrt_id) ?? 0) + 1)
        if (p.med_type === '21' || p.med_type === '52') {
          inpatient++
          expect(p.pay_grp?.type).toBe('DRG')
          expect(kb.groups.has(`DRG:${p.pay_grp!.code}`)).toBe(true)
        }
      }
    }
    const opened = of('visit.opened').map((e) => e.payload.mdtrt_id)
    expect(new Set(of('visit.closed').map((e) => e.payload.mdtrt_id))).toEqual(new Set(opened))
    for (const id of opened) expect(active.get(id), id).toBe(1)
    expect(inpatient).toBeGreaterThan(20)
    expect(of('fee.reversed').length).toBeGreaterThan(0)
    expect(of('settlement.reversed').length).toBeGreaterThan(0)
  })

  it('speaks the national shape: an outpatient visit opens as 2201 and its visit upload (visit.updated) comes before any fee', () => {
    const opened = new Map<string, EventOf<'visit.opened'>>()
    const updated = new Map<string, EventOf<'visit.updated'>>()
    let outpatient = 0
    for (const e of events) {
      if (e.event_type === 'visit.opened') opened.set(e.payload.mdtrt_id, e)
      else if (e.event_type === 'visit.updated') {
        expect(updated.has(e.payload.mdtrt_id)).toBe(false)
        updated.set(e.payload.mdtrt_id, e)
      } else if (e.event_type === 'fee.uploaded') {
        const o = opened.get(e.payload.mdtrt_id)!
        const inpatient = o.payload.med_type.startsWith('2') || o.payload.med_type === '52'
        if (!inpatient) expect(updated.has(e.payload.mdtrt_id), e.payload.mdtrt_id).toBe(true)
      }
    }
    for (const [id, o] of opened) {
      const inpatient = o.payload.med_type.startsWith('2') || o.payload.med_type === '52'
      if (inpatient) {
        expect(updated.has(id)).toBe(false)
        continue
      }
      outpatient++
      expect(o.payload.med_type).toBe('11')
      expect(o.payload.diagnoses).toEqual([])
      const u = updated.get(id)!
      expect(u.payload.med_type).toMatch(/^\d+$/)
      expect(u.payload.diagnoses!.length === 0 || u.payload.diagnoses![0]!.maindiag_flag === '1').toBe(true)
      expect(Date.parse(u.event_time)).toBeGreaterThan(Date.parse(o.event_time))
    }
    expect(outpatient).toBeGreaterThan(1000)
    expect(new Set([...updated.values()].map((u) => u.payload.med_type))).toEqual(new Set(['11', '13', '14', '41', '51']))
  })

  it('uploads in charge batches, and withdraws an outpatient line only as its whole batch', () => {
    const batchLines = new Map<string, string[]>()
    const batchOf = new Map<string, string>()
    const inpatient = new Set(of('visit.opened').filter((o) => o.payload.med_type.startsWith('2') || o.payload.med_type === '52').map((o) => o.payload.mdtrt_id))
    for (const e of of('fee.uploaded')) {
      const batches = new Set(e.payload.lines.map((l) => l['chrg_bchno'] as string))
      expect(batches.size).toBe(1)
      const [b] = batches
      expect(b).toMatch(/^[0-9A-Za-z_-]{1,30}$/)
      expect(batchLines.has(b!), b).toBe(false)
      batchLines.set(b!, e.payload.lines.map((l) => l.feedetl_sn))
      for (const l of e.payload.lines) batchOf.set(l.feedetl_sn, b!)
    }
    const outpatient = of('fee.reversed').filter((r) => !inpatient.has(r.payload.mdtrt_id))
    expect(outpatient.length).toBeGreaterThan(0)
    for (const r of outpatient) {
      const sns = r.payload.feedetl_sns!
      expect(batchLines.get(batchOf.get(sns[0]!)!)).toEqual(sns)
    }
  })

  it('gives msgid-shaped event ids, far from running out of an institution-second\'s numbers', () => {
    const perSecond = new Map<string, number>()
    for (const e of events) {
      expect(e.event_id).toMatch(/^[HP]\d{11}\d{14}\d{4}$/)
      expect(e.event_id.slice(0, 12)).toBe(e.source.fixmedins_code)
      expect(e.event_id.slice(12, 26)).toBe(e.event_time.slice(0, 19).replace(/[-T:]/g, ''))
      const k = e.event_id.slice(0, 26)
      perSecond.set(k, (perSecond.get(k) ?? 0) + 1)
    }
    expect([...perSecond.values()].reduce((a, b) => Math.max(a, b), 0)).toBeLessThan(2000)
  })

  it('gives generators that share an id allocator disjoint ids over the same hours (the demo\'s rounds, one store)', () => {
    // Two rounds as `fundwatch start` makes them: different seeds, the same day, the same institutions.
    const round = (seed: number, msgIds?: MsgIds) => [...createGenerator({ seed, persons: 600, days: 1, startTime: Date.parse('2026-03-02T00:00:00+08:00'), fraudRate: 0.02, kb: sampleKnowledgeBase(), msgIds }).events()].map((e) => e.event_id)
    const overlap = (a: string[], b: string[]) => { const s = new Set(a); return b.filter((id) => s.has(id)).length }
    const shared = new MsgIds(7)
    const [a, b] = [round(8, shared), round(9, shared)]
    expect(a.length).toBeGreaterThan(500)
    expect(overlap(a, b)).toBe(0)
    // Without sharing, nothing keeps two rounds apart: a seed whose sequences start where another's do meets it.
    const close = [...Array(50_000).keys()].find((k) => k > 8 && seqStart(k) === seqStart(8))!
    expect(overlap(round(8), round(close))).toBeGreaterThan(0)
  })

  it('opens a visit before anything else of it happens', () => {
    const opened = new Set<string>()
    for (const e of events) {
      if (e.event_type === 'visit.opened') opened.add(e.payload.mdtrt_id)
      else if (e.event_type !== 'inventory.movement') expect(opened.has(e.payload.mdtrt_id), `${e.event_type} ${e.payload.mdtrt_id}`).toBe(true)
    }
  })
})

describe('generator: persons', () => {
  it('registers every person in the knowledge base, consistent with what visits say', () => {
    const visits = of('visit.opened')
    const psns = new Set(visits.map((e) => e.payload.psn_no))
    expect(psns.size).toBeGreaterThan(1000)
    for (const e of visits) {
      const reg = kb.persons.get(e.payload.psn_no)!
      expect(reg.gend).toBe(e.payload.psn!.gend)
      expect(reg.brdy).toBe(e.payload.psn!.brdy)
      const c = e.payload.psn!.certno
      if (c !== undefined) {
        expect(isValidCertno(c)).toBe(true)
        expect(c.slice(6, 14)).toBe(reg.brdy.replace(/-/g, ''))
        expect(Number(c[16]) % 2).toBe(reg.gend === '1' ? 1 : 0)
      }
    }
    const gends = new Set(visits.map((e) => e.payload.psn!.gend))
    expect(gends).toEqual(new Set(['1', '2']))
    const ages = visits.map((e) => 2026 - Number(e.payload.psn!.brdy.slice(0, 4)))
    expect(Math.min(...ages)).toBeLessThanOrEqual(3)
    expect(Math.max(...ages)).toBeGreaterThanOrEqual(85)
    expect(gen.persons.some((p) => p.death_date !== undefined)).toBe(true)
    expect(gen.persons.filter((p) => p.chronic_diseases.length > 0).length).toBeGreaterThan(50)
    const medTypes = new Set<string>([...visits, ...of('visit.updated')].map((e) => e.payload.med_type ?? '11'))
    for (const mt of ['11', '13', '14', '21', '41', '51', '52']) expect(medTypes.has(mt), mt).toBe(true)
  })
})

describe('generator: labels and near misses', () => {
  it('labels every pattern, and every ref names a record of the stream', () => {
    const patterns = new Set(gen.labels.map((l) => l.pattern))
    expect([...patterns].sort()).toEqual(Object.keys(PATTERNS).sort())
    const sns = new Set(of('fee.uploaded').flatMap((e) => e.payload.lines.map((l) => l.feedetl_sn)))
    const mdtrts = new Set(of('visit.opened').map((e) => e.payload.mdtrt_id))
    const setls = new Set(of('settlement.completed').map((e) => e.payload.setl_id))
    const psns = new Set(of('visit.opened').map((e) => e.payload.psn_no))
    for (const l of [...gen.labels, ...gen.nearMisses]) {
      for (const sn of l.refs.feedetl_sns) expect(sns.has(sn), sn).toBe(true)
      for (const id of l.refs.mdtrt_ids) expect(mdtrts.has(id), id).toBe(true)
      for (const id of l.refs.setl_ids) expect(setls.has(id), id).toBe(true)
      expect(kb.institutions.has(l.fixmedins_code)).toBe(true)
      if (l.psn_no) expect(psns.has(l.psn_no)).toBe(true)
      expect(l.note.length).toBeGreaterThan(10)
    }
    // The issue-2 detectors get precise labels.
    for (const l of gen.labels.filter((x) => x.pattern === 'duplicate-charge')) expect(l.refs.feedetl_sns.length).toBe(2)
    for (const l of gen.labels.filter((x) => x.pattern === 'restricted-item')) expect(l.refs.feedetl_sns.length).toBe(1)
    for (const l of gen.labels.filter((x) => x.pattern === 'split-hospitalization')) expect(l.refs.mdtrt_ids.length).toBe(2)
    const restricted = gen.labels.filter((x) => x.pattern === 'restricted-item').map((l) => l.note.split(':')[0])
    expect(new Set(restricted)).toEqual(new Set(['gender', 'age', 'level']))
    expect(gen.nearMisses.length).toBeGreaterThanOrEqual(20)
  })

  it('injects fraud a reference checker finds, and background it finds clean', () => {
    const found = oracle(events, gen.kb)
    const unlabelled = found.filter((f) => !gen.labels.some((l) => alertMatchesLabel(asAlert(f), l)))
    expect(unlabelled.map((f) => `${f.pattern}: ${f.why}`)).toEqual([])
    const missed = gen.labels.filter((l) => !found.some((f) => alertMatchesLabel(asAlert(f), l)))
    expect(missed.map((l) => `${l.pattern}: ${l.note}`)).toEqual([])
    const nearHit = gen.nearMisses.filter((n) => found.some((f) => alertMatchesLabel(asAlert(f), { ...n } as Label)))
    expect(nearHit.map((n) => n.kind)).toEqual([])
  })

  it('with fraudRate 0 injects nothing, and the reference checker finds nothing', () => {
    const clean = createGenerator({ seed: 12, persons: 600, days: DAYS, startTime: START, fraudRate: 0, kb: kbData })
    const evs = [...clean.events()]
    expect(clean.labels).toEqual([])
    expect(clean.nearMisses).toEqual([])
    expect(oracle(evs, clean.kb).map((f) => `${f.pattern}: ${f.why}`)).toEqual([])
  })
})

describe('generator: inventory', () => {
  it('books a sale for dispensed goods and never sells what it has not got, except the swapped item', () => {
    const swapped = new Set(gen.labels.filter((l) => l.pattern === 'inventory-mismatch').map((l) => l.fixmedins_code))
    const dispensed = new Map<string, Set<string>>()
    const visitInst = new Map(of('visit.opened').map((e) => [e.payload.mdtrt_id, e.source.fixmedins_code]))
    const stock = new Map<string, number>()
    const totals = new Map<string, { opening: number; purchases: number; sales: number }>()
    let sales = 0
    for (const e of events) {
      if (e.event_type === 'fee.uploaded') {
        const s = dispensed.get(e.payload.mdtrt_id) ?? new Set<string>()
        for (const l of e.payload.lines) s.add(l.med_list_codg)
        dispensed.set(e.payload.mdtrt_id, s)
      }
      if (e.event_type !== 'inventory.movement') continue
      const p = e.payload
      const k = `${p.fixmedins_code}|${p.med_list_codg}`
      const n = Number(p.cnt)
      const tot = totals.get(k) ?? { opening: n, purchases: 0, sales: 0 }
      totals.set(k, tot)
      if (p.kind === 'purchase') tot.purchases += n
      if (p.kind === 'sale') tot.sales += n
      if (p.kind === 'stock_count') {
        if (stock.has(k) && !swapped.has(p.fixmedins_code)) expect(n, k).toBe(stock.get(k))
        stock.set(k, n)
      } else if (p.kind === 'purchase') stock.set(k, stock.get(k)! + n)
      else if (p.kind === 'loss') stock.set(k, stock.get(k)! - n)
      else if (p.kind === 'sale') {
        sales++
        expect(stock.has(k), `sale before any count of ${k}`).toBe(true)
        stock.set(k, stock.get(k)! - n)
        if (!swapped.has(p.fixmedins_code)) expect(stock.get(k)!, k).toBeGreaterThanOrEqual(0)
        expect(visitInst.get(p.mdtrt_id!)).toBe(p.fixmedins_code)
        expect(dispensed.get(p.mdtrt_id!)?.has(p.med_list_codg)).toBe(true)
      }
    }
    expect(sales).toBeGreaterThan(1000)
    // The swapped item: more sold than was ever bought or in stock (串换).
    const mismatched = [...totals].filter(([, t]) => t.sales > t.purchases + t.opening).map(([k]) => k.split('|')[0]!)
    expect(new Set(mismatched)).toEqual(swapped)
  })
})

describe('generator: options and datasets', () => {
  it('refuses bad options and a knowledge base without the sample catalog', () => {
    expect(() => createGenerator({ seed: 1, days: 0, kb: kbData })).toThrow(FundwatchError)
    expect(() => createGenerator({ seed: 1.5, kb: kbData })).toThrow(/seed/)
    expect(() => createGenerator({ seed: 1, fraudRate: 2, kb: kbData })).toThrow(/fraudRate/)
    expect(() => createGenerator({ seed: 1, kb: { ...kbData, catalog: kbData.catalog.slice(1) } })).toThrow(/lacks sample catalog item/)
  })

  it('keeps a one-day stream inside its day (the live demo)', () => {
    const start = Date.parse('2026-05-11T00:00:00+08:00')
    const g = createGenerator({ seed: 3, persons: 400, days: 1, startTime: start, fraudRate: 0.02, kb: kbData })
    const evs = [...g.events()]
    expect(evs.length).toBeGreaterThan(100)
    for (const e of evs) {
      expect(AnyEvent.safeParse(e).success).toBe(true)
      expect(Date.parse(e.event_time)).toBeLessThan(start + 86_400_000)
    }
  })

  it('drops what does not fit a short horizon instead of labelling records that never happen', () => {
    const g = createGenerator({ seed: 13, persons: 300, days: 9, startTime: START, fraudRate: 0.02, kb: kbData })
    const evs = [...g.events()]
    const sns = new Set(evs.flatMap((e) => (e.event_type === 'fee.uploaded' ? e.payload.lines.map((l) => l.feedetl_sn) : [])))
    const mdtrts = new Set(evs.flatMap((e) => (e.event_type === 'visit.opened' ? [e.payload.mdtrt_id] : [])))
    expect(g.labels.length).toBeGreaterThan(10)
    for (const l of [...g.labels, ...g.nearMisses]) {
      for (const sn of l.refs.feedetl_sns) expect(sns.has(sn), sn).toBe(true)
      for (const id of l.refs.mdtrt_ids) expect(mdtrts.has(id), id).toBe(true)
    }
    // Readmission windows and cycles need weeks: those labels are simply absent.
    expect(g.labels.some((l) => l.pattern === 'split-hospitalization')).toBe(false)
  })

  it('sizes the population for targetFeeLines', () => {
    // Small targets are dominated by the fixed injections (every pattern and variant at least once); 40k is not.
    const g = createGenerator({ seed: 4, days: DAYS, startTime: START, targetFeeLines: 40_000, kb: kbData })
    for (const _ of g) void _
    expect(g.stats.feeLines).toBeGreaterThan(40_000 * 0.9)
    expect(g.stats.feeLines).toBeLessThan(40_000 * 1.1)
  })

  it('rejects, not crashes, when the events file cannot be written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fundwatch-dataset-'))
    try {
      await mkdir(join(dir, 'events.jsonl'))
      await expect(writeDataset(dir, { seed: 9, persons: 50, days: 3, startTime: START, kb: kbData })).rejects.toThrow(/EISDIR/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('writes a dataset whose files agree with its counts, and a knowledge base that loads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fundwatch-dataset-'))
    try {
      const r = await writeDataset(dir, { seed: 9, persons: 200, days: DAYS, startTime: START, kb: kbData })
      const lines = (await readFile(r.eventsFile, 'utf8')).trimEnd().split('\n')
      expect(lines.length).toBe(r.counts.events)
      const evs = lines.map((l) => JSON.parse(l) as AnyEvent)
      const feeLines = evs.reduce((n, e) => n + (e.event_type === 'fee.uploaded' ? e.payload.lines.length : 0), 0)
      expect(feeLines).toBe(r.counts.feeLines)
      expect(Object.values(r.counts.byType).reduce((a, b) => a + b, 0)).toBe(r.counts.events)
      const labels = (await readFile(r.labelsFile, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Label)
      expect(labels.length).toBe(r.counts.labels)
      expect(new Set(labels.map((l) => l.pattern)).size).toBe(Object.keys(PATTERNS).length)
      const loaded = await loadKnowledgeBase(r.kbDir)
      for (const e of evs) if (e.event_type === 'visit.opened') expect(loaded.persons.has(e.payload.psn_no)).toBe(true)
      expect(loaded.catalog.size).toBe(kbData.catalog.length)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
