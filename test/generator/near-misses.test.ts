import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent, EventOf, FeeLine } from '../../schemas/index.ts'
import { writeDataset } from '../../src/generator/generate.ts'
import type { Label, NearMiss } from '../../src/generator/labels.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import { cnDayNumber } from '../../src/util/time.ts'

// Issue 9's near misses, read back from the files `fundwatch evaluate` replays:
// the order of events.jsonl is the order the pipeline sees them in.
const START = Date.parse('2026-03-02T00:00:00+08:00')
const DAYS = 30
const MIN = 60_000

let dir: string
let events: AnyEvent[]
let labels: Label[]
let nearMisses: NearMiss[]

const jsonl = async <T>(file: string): Promise<T[]> => (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as T)
const t = (s: string): number => Date.parse(s)

/** The events of one visit, with their place in the file. */
function visitEvents(mdtrt_id: string): { i: number; e: AnyEvent }[] {
  return events.map((e, i) => ({ i, e })).filter(({ e }) => e.event_type !== 'inventory.movement' && 'mdtrt_id' in e.payload && e.payload.mdtrt_id === mdtrt_id)
}
function ofType<T extends AnyEvent['event_type']>(xs: { i: number; e: AnyEvent }[], type: T): { i: number; e: EventOf<T> }[] {
  return xs.filter((x): x is { i: number; e: EventOf<T> } => x.e.event_type === type)
}
const kind = (k: string): NearMiss[] => nearMisses.filter((n) => n.kind === k)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fundwatch-near-'))
  const r = await writeDataset(dir, { seed: 21, persons: 400, days: DAYS, startTime: START, fraudRate: 0.02, kb: sampleKnowledgeBase() })
  events = await jsonl<AnyEvent>(r.eventsFile)
  labels = await jsonl<Label>(r.labelsFile)
  nearMisses = await jsonl<NearMiss>(r.nearMissesFile)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('generator: near misses that later facts clear (issue 9)', () => {
  it('reverse-after-duplicate: an item billed twice, the second line reversed minutes after its upload, later in the file', () => {
    const nms = kind('reversed-duplicate')
    expect(nms.length).toBeGreaterThan(0)
    for (const nm of nms) {
      expect(nm.pattern).toBe('duplicate-charge')
      expect(nm.refs.mdtrt_ids).toHaveLength(1)
      const [first, second] = nm.refs.feedetl_sns
      expect(nm.refs.feedetl_sns).toHaveLength(2)
      const evs = visitEvents(nm.refs.mdtrt_ids[0]!)
      const uploadOf = (sn: string) => ofType(evs, 'fee.uploaded').find(({ e }) => e.payload.lines.some((l) => l.feedetl_sn === sn))!
      const lines = [first, second].map((sn) => uploadOf(sn!).e.payload.lines.find((l) => l.feedetl_sn === sn)!)
      expect(lines[0]!.med_list_codg).toBe(lines[1]!.med_list_codg)
      expect(lines[0]!.fee_ocur_time).toBe(lines[1]!.fee_ocur_time)
      // The line to be withdrawn went up in its own charge batch, at the same time as the rest (the national 2205 withdraws whole batches).
      const upload = uploadOf(second!)
      expect(upload.e.payload.lines).toHaveLength(1)
      expect(lines[1]!['chrg_bchno']).not.toBe(lines[0]!['chrg_bchno'])
      expect(upload.e.event_time).toBe(uploadOf(first!).e.event_time)
      const reversals = ofType(evs, 'fee.reversed')
      expect(reversals).toHaveLength(1)
      const rev = reversals[0]!
      expect(rev.e.payload.feedetl_sns).toEqual([second])
      expect(rev.e.payload.psn_no).toBe(nm.psn_no)
      expect(rev.i).toBeGreaterThan(upload.i)
      const after = t(rev.e.event_time) - t(upload.e.event_time)
      expect(after).toBeGreaterThan(0)
      expect(after).toBeLessThanOrEqual(5 * MIN)
    }
  })

  it('pre-billed bed days: one bed line per planned day, all uploaded at admission, and a discharge that covers them', () => {
    const nms = kind('pre-billed-bed-days')
    expect(nms.length).toBeGreaterThan(0)
    for (const nm of nms) {
      expect(nm.pattern).toBe('phantom-service')
      const evs = visitEvents(nm.refs.mdtrt_ids[0]!)
      const opened = ofType(evs, 'visit.opened')[0]!
      const closed = ofType(evs, 'visit.closed')[0]!
      const uploads = ofType(evs, 'fee.uploaded')
      const beds = uploads.flatMap(({ e }) => e.payload.lines.filter((l) => l.med_chrgitm_type === '01'))
      expect(beds.map((l) => l.feedetl_sn).sort()).toEqual([...nm.refs.feedetl_sns].sort())
      // All in the first upload, within the first hour, before most of the days they bill.
      const first = uploads[0]!
      expect(first.e.payload.lines.filter((l) => l.med_chrgitm_type === '01')).toHaveLength(beds.length)
      expect(t(first.e.event_time) - t(opened.e.payload.begntime)).toBeLessThan(60 * MIN)
      expect(Math.max(...beds.map((l) => t(l.fee_ocur_time)))).toBeGreaterThan(t(first.e.event_time) + 24 * 60 * MIN)
      const days = beds.map((l) => cnDayNumber(t(l.fee_ocur_time)))
      expect(new Set(days).size).toBe(beds.length)
      // 算入不算出: the stay has as many bed days as were billed.
      const stayDays = cnDayNumber(t(closed.e.payload.endtime)) - cnDayNumber(t(opened.e.payload.begntime))
      expect(beds.length).toBe(stayDays)
      expect(beds.length).toBeGreaterThanOrEqual(5)
      expect(closed.i).toBeGreaterThan(first.i)
    }
  })

  it('pre-billed bed days the stay did not last: labelled phantom-service, the bed days from the discharge day on', () => {
    const ls = labels.filter((l) => l.pattern === 'phantom-service' && /billed at admission/.test(l.note))
    expect(ls.length).toBeGreaterThan(0)
    expect(ls.length).toBe(kind('pre-billed-bed-days').length)
    for (const l of ls) {
      const evs = visitEvents(l.refs.mdtrt_ids[0]!)
      const opened = ofType(evs, 'visit.opened')[0]!
      const closed = ofType(evs, 'visit.closed')[0]!
      const uploads = ofType(evs, 'fee.uploaded')
      const beds: FeeLine[] = uploads[0]!.e.payload.lines.filter((x) => x.med_chrgitm_type === '01')
      const stayDays = cnDayNumber(t(closed.e.payload.endtime)) - cnDayNumber(t(opened.e.payload.begntime))
      expect(beds.length).toBeGreaterThan(stayDays)
      const endDay = cnDayNumber(t(closed.e.payload.endtime))
      expect([...l.refs.feedetl_sns].sort()).toEqual(beds.filter((x) => cnDayNumber(t(x.fee_ocur_time)) >= endDay).map((x) => x.feedetl_sn).sort())
      expect(l.refs.feedetl_sns).toHaveLength(beds.length - stayDays)
    }
  })

  it('persisting audit finding: a labelled stock shortfall in the middle third, due one alert', () => {
    const nms = kind('persisting-audit-finding')
    expect(nms.length).toBeGreaterThan(0)
    for (const nm of nms) {
      expect(nm.pattern).toBe('inventory-mismatch')
      expect(nm.expected_alerts).toBe(1)
      expect(labels.filter((l) => l.pattern === 'inventory-mismatch' && l.fixmedins_code === nm.fixmedins_code)).toHaveLength(1)
      const visits = new Set(nm.refs.mdtrt_ids)
      const moves = events.filter((e): e is EventOf<'inventory.movement'> => e.event_type === 'inventory.movement' && e.payload.fixmedins_code === nm.fixmedins_code)
      const sales = moves.filter((m) => m.payload.kind === 'sale' && visits.has(m.payload.mdtrt_id!))
      expect(sales).toHaveLength(visits.size)
      const code = sales[0]!.payload.med_list_codg
      const item = moves.filter((m) => m.payload.med_list_codg === code)
      const sum = (k: string): number => item.filter((m) => m.payload.kind === k).reduce((n, m) => n + Number(m.payload.cnt), 0)
      const opening = Number(item.find((m) => m.payload.kind === 'stock_count')!.payload.cnt)
      expect(sum('sale')).toBeGreaterThan(opening + sum('purchase'))
      // Two consecutive nightly windows of 30 days both hold every sale.
      const day0 = cnDayNumber(START)
      for (const s of sales) {
        const d = cnDayNumber(t(s.payload.movement_time)) - day0
        expect(d).toBeGreaterThanOrEqual(Math.floor(DAYS / 3))
        expect(d).toBeLessThanOrEqual(Math.floor((2 * DAYS) / 3))
      }
    }
  })
})
