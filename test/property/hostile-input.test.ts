/**
 * Property-based: the decoder and the pre-check take generated hostile input —
 * valid contract events mutated field by field, at the text level and at the
 * byte level — and must never crash, never answer 5xx, give every rejection a
 * reason, and accept nothing the contract forbids. "What the contract forbids"
 * is restated here, independently of the decoder (contractViolations), from
 * CONTRACT.md; a mutation the restatement misses shows as a failure to shrink.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_DECODE, decode, type DecodeOptions } from '../../src/pipeline/decode.ts'
import { fixture, type Fixture } from '../api/fixture.ts'

const EXAMPLES_DIR = join(import.meta.dirname, '../../schemas/examples')
const examples = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json') && f !== 'alert.json')
  .map((f) => JSON.parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')) as Record<string, unknown>)
const NOW = Date.parse('2026-04-01T00:00:00+08:00')
const opts: DecodeOptions = { ...DEFAULT_DECODE, maxBytes: 256 * 1024, now: () => NOW }

// ---- the contract, restated ------------------------------------------------

const AMOUNT = /^\d{1,14}(\.\d{1,2})?$/
const PRICE = /^\d{1,10}(\.\d{1,6})?$/
const QTY = /^\d{1,12}(\.\d{1,4})?$/
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/
const DATE = /^\d{4}-\d\d-\d\d$/
const ID40 = /^[0-9A-Za-z_-]{1,40}$/
const CLAIM_TYPES = ['visit.opened', 'visit.updated', 'visit.cancelled', 'fee.uploaded', 'fee.reversed', 'visit.closed', 'settlement.completed', 'settlement.reversed']

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the oracle reads arbitrary JSON, field by field
type Loose = any
const isObj = (v: unknown): v is Record<string, Loose> => typeof v === 'object' && v !== null && !Array.isArray(v)
const scaledInt = (s: string, scale: number) => {
  const [i, f = ''] = s.split('.')
  return BigInt(i! + f.padEnd(scale, '0'))
}
const validTime = (s: unknown) => typeof s === 'string' && RFC3339.test(s) && !Number.isNaN(Date.parse(s))
const validDate = (s: unknown) => typeof s === 'string' && DATE.test(s) && !Number.isNaN(Date.parse(s))

/**
 * Every way an accepted event would break CONTRACT.md; empty when it keeps it.
 * `oldForm`: the decoder still takes reversals without psn_no from producers of
 * the earlier form (the pipeline resolves the person from the stored visit); a
 * pre-check draft is new input and must carry it.
 */
function contractViolations(e: unknown, oldForm = false): string[] {
  const v: string[] = []
  const need = (ok: boolean, what: string) => { if (!ok) v.push(what) }
  if (!isObj(e)) return ['not an object']
  need(typeof e.event_id === 'string' && /^[\x21-\x7e]{1,64}$/.test(e.event_id), 'event_id')
  need(e.schema_version === 1, 'schema_version')
  need(validTime(e.event_time) && Date.parse(e.event_time) <= NOW + 86_400_000, 'event_time')
  need(isObj(e.source) && typeof e.source.fixmedins_code === 'string' && /^[HP]\d{11}$/.test(e.source.fixmedins_code), 'source')
  const p = e.payload
  if (!isObj(p)) return [...v, 'payload']
  const reversal = e.event_type === 'fee.reversed' || e.event_type === 'settlement.reversed'
  if (CLAIM_TYPES.includes(e.event_type) && !(oldForm && reversal && p.psn_no === undefined)) need(typeof p.psn_no === 'string' && /^[0-9A-Za-z]{6,40}$/.test(p.psn_no), 'psn_no')
  switch (e.event_type) {
    case 'visit.opened':
      need(typeof p.mdtrt_id === 'string' && ID40.test(p.mdtrt_id), 'mdtrt_id')
      need(validTime(p.begntime), 'begntime')
      // psn is optional (the national 2201/2401 carry no birthday); when sent, it has one.
      need(p.psn === undefined || (isObj(p.psn) && validDate(p.psn.brdy)), 'psn.brdy')
      need(Array.isArray(p.diagnoses), 'diagnoses')
      break
    case 'visit.updated':
      need(typeof p.mdtrt_id === 'string' && ID40.test(p.mdtrt_id), 'mdtrt_id')
      need(['med_type', 'diagnoses', 'adm_dept_codg', 'atddr_no'].some((k) => p[k] !== undefined), 'something to update')
      need(p.diagnoses === undefined || Array.isArray(p.diagnoses), 'diagnoses')
      break
    case 'visit.cancelled':
      need(typeof p.mdtrt_id === 'string' && ID40.test(p.mdtrt_id), 'mdtrt_id')
      need(p.cancels === 'visit' || p.cancels === 'discharge', 'cancels')
      break
    case 'fee.uploaded': {
      need(Array.isArray(p.lines) && p.lines.length >= 1, 'lines')
      const seen = new Set<string>()
      for (const l of Array.isArray(p.lines) ? p.lines : []) {
        if (!isObj(l)) { v.push('line'); continue }
        need(typeof l.feedetl_sn === 'string' && ID40.test(l.feedetl_sn) && !seen.has(l.feedetl_sn), 'feedetl_sn')
        seen.add(l.feedetl_sn)
        need(validTime(l.fee_ocur_time), 'fee_ocur_time')
        const okNums = typeof l.cnt === 'string' && QTY.test(l.cnt) && typeof l.pric === 'string' && PRICE.test(l.pric)
          && typeof l.det_item_fee_sumamt === 'string' && AMOUNT.test(l.det_item_fee_sumamt)
        need(okNums, 'line money')
        if (okNums) {
          need(scaledInt(l.cnt, 4) > 0n, 'cnt > 0')
          const diff = scaledInt(l.cnt, 4) * scaledInt(l.pric, 6) - scaledInt(l.det_item_fee_sumamt, 2) * 100_000_000n
          need(diff <= 100_000_000n && diff >= -100_000_000n, 'cnt × pric = amount')
        }
      }
      break
    }
    case 'fee.reversed':
      // The lines, or a charge batch (national 2205) the pipeline resolves into lines.
      need(p.feedetl_sns !== undefined || p.chrg_bchno !== undefined, 'feedetl_sns or chrg_bchno')
      need(p.feedetl_sns === undefined || (Array.isArray(p.feedetl_sns) && p.feedetl_sns.length >= 1 && p.feedetl_sns.every((s: unknown) => typeof s === 'string' && ID40.test(s))), 'feedetl_sns')
      need(p.chrg_bchno === undefined || (typeof p.chrg_bchno === 'string' && /^[0-9A-Za-z_-]{1,30}$/.test(p.chrg_bchno)), 'chrg_bchno')
      break
    case 'visit.closed':
      need(validTime(p.endtime), 'endtime')
      break
    case 'settlement.completed': {
      const money = ['medfee_sumamt', 'fulamt_ownpay_amt', 'inscp_scp_amt', 'hifp_pay', 'fund_pay_sumamt', 'acct_pay', 'psn_cash_pay']
      const ok = money.every((k) => typeof p[k] === 'string' && AMOUNT.test(p[k])) && (p.hosp_part_amt === undefined || (typeof p.hosp_part_amt === 'string' && AMOUNT.test(p.hosp_part_amt)))
      need(ok, 'settlement money')
      if (ok) {
        const f = (k: string) => scaledInt(p[k] ?? '0', 2)
        const d = f('fund_pay_sumamt') + f('acct_pay') + f('psn_cash_pay') + f('hosp_part_amt') - f('medfee_sumamt')
        need(d <= 1n && d >= -1n, 'settlement identity')
      }
      break
    }
    case 'settlement.reversed':
      need(typeof p.setl_id === 'string' && ID40.test(p.setl_id), 'setl_id')
      break
    case 'inventory.movement':
      need(typeof p.cnt === 'string' && QTY.test(p.cnt), 'inventory cnt')
      break
    default:
      v.push('event_type')
  }
  return v
}

// ---- hostile input ---------------------------------------------------------

/** Values a producer should never send, and a few it may. */
const nasty = fc.oneof(
  fc.constantFrom('', ' ', '\u0000', '\u200b\u200b', '1e3', '0x10', '-1', '-0.01', '٣', 'NaN', 'Infinity', '9'.repeat(40), '1.0000001', '100000000000000.00',
    '0001-01-01T00:00:00Z', '9999-12-31T23:59:59+08:00', '2026-02-30T10:00:00+08:00', '2026-03-02', 'March 7', '<script>', "'; DROP TABLE events; --", '{db}', 'H37070200001'),
  fc.constantFrom(null, true, 0, -1, 1e308, 2 ** 53 + 1, [], {}, { __proto__: null }),
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 3 }),
)

type Obj = Record<string, unknown>
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(v)) v.forEach((x, i) => { out.push([...prefix, i]); paths(x, [...prefix, i], out) })
  else if (isObj(v)) for (const k of Object.keys(v)) { out.push([...prefix, k]); paths(v[k], [...prefix, k], out) }
  return out
}
function parentOf(root: Obj, path: (string | number)[]): Loose {
  let cur: Loose = root
  for (const k of path.slice(0, -1)) cur = cur?.[k]
  return cur
}

const NAMED = ['psn_no', 'mdtrt_id', 'fixmedins_code', 'event_time', 'begntime', 'endtime', 'fee_ocur_time', 'brdy', 'cnt', 'pric', 'det_item_fee_sumamt', 'feedetl_sn', 'feedetl_sns', 'lines', 'medfee_sumamt', 'hosp_part_amt', 'event_id', 'event_type'] as const

/** One mutation of a parsed event: replace or delete a field, add an odd key, repeat lines. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: nasty }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('add' as const), at: fc.nat(), key: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'extra', 'psn_no', 'hosp_part_amt'), value: nasty }),
  fc.record({ op: fc.constant('repeatLine' as const), times: fc.integer({ min: 2, max: 40 }) }),
  // Aimed at the fields the checks hinge on, so they are hit often, not by luck.
  fc.record({ op: fc.constant('named' as const), key: fc.constantFrom(...NAMED), value: fc.option(nasty, { nil: undefined }) }),
)

interface Mutation { op: string; at?: number; value?: unknown; key?: string; times?: number }

function apply(e: Obj, ms: readonly Mutation[]): Obj {
  for (const m of ms) {
    const ps = paths(e)
    if (m.op === 'repeatLine') {
      const lines = (e.payload as Obj | undefined)?.lines
      if (Array.isArray(lines) && lines.length) (e.payload as Obj).lines = Array.from({ length: m.times! }, () => structuredClone(lines[0]))
      continue
    }
    if (m.op === 'named') {
      // Every occurrence of the key: deleted (value undefined) or replaced.
      for (const path of ps.filter((q) => q.at(-1) === m.key)) {
        const parent = parentOf(e, path)
        if (!parent || typeof parent !== 'object' || Array.isArray(parent)) continue
        if (m.value === undefined) delete parent[m.key!]
        else parent[m.key!] = m.value
      }
      continue
    }
    if (!ps.length) continue
    const path = ps[m.at! % ps.length]!
    const parent = m.op === 'add' ? parentOf(e, [...path, '']) : parentOf(e, path)
    const key = path.at(-1)!
    if (m.op === 'set' && parent && typeof parent === 'object') parent[key] = m.value
    else if (m.op === 'delete' && parent && typeof parent === 'object') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1)
      else delete parent[key]
    } else if (m.op === 'add') {
      const target = parentOf(e, [...path, 'x'])
      if (isObj(target)) Object.defineProperty(target, m.key!, { value: m.value, enumerable: true, configurable: true, writable: true })
    }
  }
  return e
}

/** Text- and byte-level damage to an encoded event. */
const damage = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('nest' as const), depth: fc.integer({ min: 50, max: 30_000 }) }),
  fc.record({ kind: fc.constant('proto' as const) }),
  fc.record({ kind: fc.constant('dupKey' as const) }),
)

function encode(e: Obj, d: { kind: string; at?: number; byte?: number; depth?: number }): Buffer {
  const text = JSON.stringify(e)
  switch (d.kind) {
    case 'truncate': return Buffer.from(text.slice(0, d.at! % Math.max(1, text.length)))
    case 'flip': {
      const b = Buffer.from(text)
      b[d.at! % b.length] = d.byte!
      return b
    }
    case 'nest': {
      // The first array or object value nested deeper and deeper: an event's payload, a draft's events.
      const at = text.search(/"(payload|events)":/)
      if (at < 0) return Buffer.from(text)
      const colon = text.indexOf(':', at) + 1
      return Buffer.from(`${text.slice(0, colon)}${'['.repeat(d.depth!)}${text.slice(colon, -1)}${']'.repeat(d.depth!)}}`)
    }
    case 'proto': return Buffer.from(text.replace('{', '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},'))
    case 'dupKey': return Buffer.from(text.replace('"event_type":', '"event_type":"fee.uploaded","event_type":'))
    default: return Buffer.from(text)
  }
}

const hostileRecord = fc.tuple(fc.constantFrom(...examples), fc.array(mutation, { minLength: 0, maxLength: 4 }), damage)
  .map(([ex, ms, d]) => encode(apply(structuredClone(ex), ms), d))

const REASON = /^[a-z_]+(\.[a-z_]+)?(@[A-Za-z0-9_.*]+)?$/

describe('decode under hostile input', () => {
  it('never throws, gives every rejection a reason, and accepts only what the contract allows', () => {
    fc.assert(fc.property(fc.oneof({ weight: 9, arbitrary: hostileRecord }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) }), (bytes) => {
      const r = decode(bytes, opts)
      if (r.ok) {
        expect(contractViolations(JSON.parse(bytes.toString('utf8')), true)).toEqual([])
      } else {
        expect(r.reason).toMatch(REASON)
        expect(r.detail.length).toBeGreaterThan(0)
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    }), { numRuns: 3000, seed: 20261206 })
  })

  it('accepts the untouched examples (the generator is not just noise)', () => {
    for (const e of examples) expect(decode(Buffer.from(JSON.stringify(e)), opts)).toMatchObject({ ok: true })
  })
})

describe('pre-check under hostile drafts', () => {
  let fx: Fixture
  beforeAll(async () => { fx = await fixture({ start: '2026-04-01T00:00:00+08:00' }) })
  afterAll(async () => fx?.close())

  const DRAFT_TYPES = new Set(['visit.opened', 'visit.updated', 'fee.uploaded', 'fee.reversed', 'visit.closed'])
  const drafts = fc.array(fc.tuple(fc.constantFrom(...examples.filter((e) => DRAFT_TYPES.has(String(e.event_type)))), fc.array(mutation, { maxLength: 3 }))
    .map(([ex, ms]) => apply(structuredClone(ex), ms)), { minLength: 1, maxLength: 4 })

  it('never answers 5xx, explains every refusal, and checks only drafts the contract allows', async () => {
    const seen = new Map<number, number>()
    await fc.assert(fc.asyncProperty(drafts, damage, async (events, d) => {
      // The body itself damaged too: nested, polluted, duplicated keys, cut short.
      const text = d.kind === 'none' ? JSON.stringify({ events }) : encode({ events } as Obj, d).toString('latin1')
      const res = await fx.server.inject({ method: 'POST', url: '/api/v1/precheck', payload: text, headers: { authorization: `Bearer ${fx.tokens.precheck}`, 'content-type': 'application/json' } })
      seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1)
      expect(res.statusCode, res.body.slice(0, 300)).toBeLessThan(500)
      const body = res.json()
      if (res.statusCode === 200) {
        for (const e of JSON.parse(text).events as unknown[]) expect(contractViolations(e)).toEqual([])
        expect(Array.isArray(body.findings)).toBe(true)
      } else {
        expect([400, 403, 404, 413]).toContain(res.statusCode)
        expect(typeof body.error).toBe('string')
        expect(String(body.message).length).toBeGreaterThan(0)
      }
    }), { numRuns: 300, seed: 20261206 })
    // Not vacuous: some drafts were checked, some refused.
    expect(seen.get(200) ?? 0).toBeGreaterThan(10)
    expect(seen.get(400) ?? 0).toBeGreaterThan(10)
  })
})
