import { DEFAULT_DECODE, readJson, validateEvent, type DecodeOptions } from '../pipeline/decode.ts'
import type { DecodedEvent, DecodedRecord } from '../pipeline/types.ts'
import { personFromResidentId } from './idcard.ts'
import { INV_CHG_KINDS, listTypeOf, TX_BY_INFNO, type FieldRule, type TxRule, type Via } from './mapping.ts'
import { SPEC, type FieldType, type SpecField, type SpecNode } from './spec.ts'
import { ALIASES, contractMedType, EXP_CONTENT_NAMES, MDTRT_CERT_RESIDENT_ID, RESIDENT_ID_CERT_TYPES, TEXT_IDS } from './variants.ts'

/**
 * The ingest adapter for the national platform's transaction stream
 * (docs/national.md): one logged transaction — `{"request": …, "response": …}`
 * or a bare request — becomes the contract events it stands for, in order,
 * each then validated as any contract event is; or none, for a transaction
 * that is not a fact (counted); or one dead letter for the whole record, with
 * a reason naming the transaction, node and field. Interprets the table in
 * mapping.ts; never throws.
 */
export function decodeNational(bytes: Buffer, opts: DecodeOptions = DEFAULT_DECODE): DecodedRecord {
  const r = readJson(bytes, opts)
  if (!r.ok) return r
  try {
    const mapped = mapTransaction(r.json)
    if ('ignored' in mapped) return { ok: true, events: [], text: r.text, ignored: mapped.ignored }
    const events: DecodedEvent[] = []
    for (let i = 0; i < mapped.events.length; i++) {
      const v = validateEvent(mapped.events[i], r.text, opts)
      if (!v.ok) return { ok: false, reason: v.reason, detail: `${mapped.infno} event ${i + 1} of ${mapped.events.length} (${String(mapped.events[i]!.event_type)}): ${v.detail}`.slice(0, 2500) }
      events.push({ event: v.event, eventTime: v.eventTime })
    }
    return { ok: true, events, text: r.text }
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, reason: e.reason, detail: e.detail.slice(0, 2500) }
    // A record the adapter did not foresee is still only a dead letter.
    return { ok: false, reason: 'national.adapter_error', detail: String((e as Error)?.message ?? e).slice(0, 2500) }
  }
}

type Obj = Record<string, unknown>
export type Mapped = { infno: string; events: Obj[] } | { ignored: { infno: string; reason: string } }

class Refusal {
  constructor(readonly reason: string, readonly detail: string) {}
}
const refuse = (reason: string, detail: string): never => {
  throw new Refusal(reason, detail)
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const empty = (v: unknown) => v === undefined || v === null || v === ''
const DT = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/
const D = /^\d{4}-\d{2}-\d{2}$/
const N = /^-?\d+(\.\d+)?$/

/** Transaction → contract events (unvalidated), or why it holds none. Throws a Refusal. */
export function mapTransaction(json: unknown): Mapped {
  if (!isObj(json)) return refuse('not_object', `top level is ${json === null ? 'null' : Array.isArray(json) ? 'an array' : `a ${typeof json}`}, not an object`)
  let request: unknown = json
  let response: unknown
  if ('request' in json) {
    request = json.request
    response = json.response
  } else if (!('infno' in json)) refuse('national.envelope@request', 'neither {"request": …, "response": …} nor a bare request (no infno)')
  if (!isObj(request)) return refuse('national.envelope@request', 'request is not an object')
  if (!empty(response) && !isObj(response)) refuse('national.envelope@response', 'response is not an object')
  const resp = isObj(response) ? response : undefined

  const infno = scalar(request.infno)
  if (infno === undefined || infno === '') return refuse('national.envelope@infno', 'infno missing or not a string')
  const tx = TX_BY_INFNO.get(infno)
  if (!tx) return refuse('national.unknown_infno', `infno ${infno.slice(0, 20)} is not a transaction fundwatch reads (docs/national.md)`)
  // A transaction the platform refused never happened: nothing to record.
  if (resp && !empty(resp.infcode) && Number(resp.infcode) !== 0) return { ignored: { infno, reason: 'failed' } }
  if (tx.ignored) return { ignored: { infno, reason: 'not_a_fact' } }

  const env = request
  for (const f of ['msgid', 'fixmedins_code'] as const) {
    const v = scalar(env[f])
    if (v === undefined || v === '') refuse(`national.envelope@${f}`, `${f} missing or not a string`)
  }
  if (typeof env.inf_time !== 'string' || !DT.test(env.inf_time)) refuse('national.envelope@inf_time', `inf_time ${JSON.stringify(env.inf_time)?.slice(0, 40)} is not yyyy-MM-dd HH:mm:ss`)
  if (!isObj(env.input)) return refuse('national.envelope@input', 'input missing or not an object')
  const input = env.input
  const output = resp && isObj(resp.output) ? resp.output : undefined

  // Every input node present is checked against the specification; the node the events come from must be there.
  const spec = SPEC[infno] ?? []
  const nodes = new Map<string, Obj[]>()
  for (const sn of spec.filter((n) => n.direction === 'input')) {
    const v = input[sn.node]
    if (v === undefined || v === null) continue
    const rows = rowsOf(v, infno, sn.node)
    rows.forEach((row) => checkRow(row, sn, infno, spec))
    nodes.set(sn.node, rows)
  }
  const main = nodes.get(tx.node!)
  if (!main || main.length === 0) return refuse(`national.missing@${infno}.${tx.node}`, `input.${tx.node} is missing or empty`)
  const outNode = tx.output
  const outputName = outNode && spec.some((n) => n.direction === 'input' && n.node === outNode) ? `output.${outNode}` : outNode
  const outRows = outNode && output && !empty(output[outNode]) ? rowsOf(output[outNode], infno, outputName!) : []
  const outSpec = spec.find((n) => n.direction === 'output' && n.node === outNode)
  if (outSpec) outRows.forEach((row) => checkRow(row, outSpec, infno, spec, outputName))

  const ctx0 = { tx, infno, env, nodes, outputName: outputName ?? '' }
  const payloads: { event_type: string; payload: Obj }[] = []
  if (tx.rows === 'one') {
    if (main.length > 1) refuse(`national.invalid@${infno}.${tx.node}`, `${main.length} rows where the transaction has one`)
    payloads.push({ event_type: tx.event!, payload: build(tx.payload!, { ...ctx0, row: main[0]!, group: main, out: outRows[0] }, main[0]!, tx.node!) })
  } else if (tx.rows === 'each') {
    for (const row of main) payloads.push({ event_type: tx.event!, payload: build(tx.payload!, { ...ctx0, row, group: [row], out: outRows[0] }, row, tx.node!) })
  } else {
    const isRefund = (row: Obj) => tx.refunds === true && String(scalar(row.cnt) ?? '').startsWith('-')
    const uploads = groupByVisit(main.filter((row) => !isRefund(row)), infno, tx.node!)
    const refunds = groupByVisit(main.filter(isRefund), infno, tx.node!)
    const results = new Map(outRows.map((row) => [scalar(row.feedetl_sn) ?? '', row]))
    for (const group of uploads) {
      const ctx = { ...ctx0, row: group[0]!, group, out: undefined }
      const payload = build(tx.payload!, ctx, undefined, tx.node!)
      if (tx.lines) payload.lines = group.map((row) => build(tx.lines!, { ...ctx0, row, group, out: results.get(scalar(row.feedetl_sn) ?? '') }, row, tx.node!))
      payloads.push({ event_type: tx.event!, payload })
    }
    for (const group of refunds) {
      const sns = group.map((row) => {
        const init = scalar(row.init_feedetl_sn)
        if (empty(init)) refuse(`national.invalid@${infno}.${tx.node}.cnt`, `line ${scalar(row.feedetl_sn)}: a negative cnt without the init_feedetl_sn of the line it refunds`)
        return init!
      })
      payloads.push({ event_type: 'fee.reversed', payload: { mdtrt_id: text(group[0]!.mdtrt_id), psn_no: text(group[0]!.psn_no), feedetl_sns: [...new Set(sns)] } })
    }
  }

  const msgid = scalar(env.msgid)!
  const [, day, time] = DT.exec(env.inf_time as string)!
  const system = scalar(env.fixmedins_soft_fcty)
  const events = payloads.map((p, i) => ({
    event_id: payloads.length > 1 ? `${msgid}.${i + 1}` : msgid,
    event_type: p.event_type,
    event_time: `${day}T${time}+08:00`,
    schema_version: 1,
    source: { fixmedins_code: scalar(env.fixmedins_code), ...(empty(system) ? {} : { system }) },
    payload: p.payload,
  }))
  return { infno, events }
}

interface Ctx {
  tx: TxRule
  infno: string
  env: Obj
  nodes: Map<string, Obj[]>
  row: Obj
  group: Obj[]
  /** The output row: the node's (single) row, or for a fee line the result row with its feedetl_sn. */
  out: Obj | undefined
  outputName: string
}

/** A node's value as rows: one object, or a list of objects. */
function rowsOf(v: unknown, infno: string, node: string): Obj[] {
  if (isObj(v)) return [v]
  if (Array.isArray(v) && v.every(isObj)) return v
  return refuse(`national.invalid@${infno}.${node}`, `${node} is neither an object nor a list of objects`)
}

/** HN has the transaction when it prints any of its fields (2203A is Jiangxi's alone). */
function specHas(spec: readonly SpecNode[], which: 2 | 3): boolean {
  return spec.some((n) => n.fields.some((f) => f[which] !== '—'))
}

/**
 * Requiredness and types of one row against the printed field table. A field
 * is required when every provincial copy that has the transaction requires it
 * (HN and JX alike); required in one only, it is optional here. Names a
 * province spells differently (variants.ts ALIASES) count as one field.
 */
function checkRow(row: Obj, sn: SpecNode, infno: string, spec: readonly SpecNode[], nodeName = sn.node): void {
  for (const c of fieldChecks(sn, infno, spec)) {
    if (c.required && c.names.every((n) => empty(row[n]))) refuse(`national.missing@${infno}.${nodeName}.${c.names[0]}`, `${nodeName}.${c.names.join(' / ')} is required (HN and JX) and missing`)
    for (const m of c.members) {
      const v = row[m.name]
      if (!empty(v)) checkType(v, m.name, m.type, infno, nodeName)
    }
  }
}

/** One field of a node as checked: its names (a provincial spelling counts as the same field), whether it is required, the type of each name. */
interface FieldCheck { names: readonly string[]; required: boolean; members: readonly { name: string; type: FieldType | 'ext' }[] }

/** The checks of a node, worked out once per transaction and node (every fee line of every upload is checked against them). */
const FIELD_CHECKS = new WeakMap<SpecNode, FieldCheck[]>()
function fieldChecks(sn: SpecNode, infno: string, spec: readonly SpecNode[]): FieldCheck[] {
  const cached = FIELD_CHECKS.get(sn)
  if (cached) return cached
  const groups = ALIASES[`${infno}.${sn.node}`] ?? []
  const hnHas = specHas(spec, 2)
  const jxHas = specHas(spec, 3)
  const byName = new Map(sn.fields.map((f) => [f[0], f]))
  const seen = new Set<string>()
  const checks: FieldCheck[] = []
  for (const f of sn.fields) {
    const names = groups.find((g) => g.includes(f[0])) ?? [f[0]]
    const key = names.join('|')
    if (seen.has(key)) continue
    seen.add(key)
    const members = names.map((n) => byName.get(n)).filter((x): x is SpecField => x !== undefined)
    const hn = members.some((m) => m[2] === 'Y') || !hnHas
    const jx = members.some((m) => m[3] === 'Y') || !jxHas
    checks.push({
      names, required: sn.direction === 'input' && hn && jx,
      members: members.map((m) => ({ name: m[0], type: EXP_CONTENT_NAMES.includes(m[0]) ? 'ext' : TEXT_IDS.includes(m[0]) ? 'C' : m[1] })),
    })
  }
  FIELD_CHECKS.set(sn, checks)
  return checks
}

function checkType(v: unknown, name: string, type: FieldType | 'ext', infno: string, node: string): void {
  let why: string | undefined
  switch (type) {
    case 'ext':
      if (typeof v !== 'string' && !isObj(v)) why = 'expContent must be an object or a JSON string'
      break
    case 'C':
      if (typeof v !== 'string' && typeof v !== 'number') why = 'a character field must be a string'
      break
    case 'N':
      if (!(typeof v === 'number' && Number.isFinite(v)) && !(typeof v === 'string' && N.test(v))) why = 'a numeric field must be a number or a decimal string'
      break
    case 'D':
      if (typeof v !== 'string' || !D.test(v)) why = 'a date must be yyyy-MM-dd'
      break
    case 'DT':
      if (typeof v !== 'string' || !DT.test(v)) why = 'a datetime must be yyyy-MM-dd HH:mm:ss'
      break
    case 'list/obj':
      if (typeof v !== 'object' || v === null) why = 'must be a list or an object'
  }
  if (why !== undefined) refuse(`national.invalid@${infno}.${node}.${name}`, `${node}.${name} ${JSON.stringify(v)?.slice(0, 60)}: ${why}`)
}

function groupByVisit(rows: Obj[], infno: string, node: string): Obj[][] {
  const groups = new Map<string, Obj[]>()
  for (const row of rows) {
    const m = scalar(row.mdtrt_id) ?? ''
    const g = groups.get(m)
    if (!g) groups.set(m, [row])
    else {
      if (scalar(row.psn_no) !== scalar(g[0]!.psn_no)) refuse(`national.invalid@${infno}.${node}.psn_no`, `visit ${m}: rows name different persons`)
      g.push(row)
    }
  }
  return [...groups.values()]
}

const knownCache = new Map<string, Set<string>>()

/** Known fields of a node (the spec's, and their provincial spellings): what is not among them passes through. */
function knownFields(infno: string, node: string): Set<string> {
  const key = `${infno}.${node}`
  const cached = knownCache.get(key)
  if (cached) return cached
  const known = new Set<string>()
  for (const sn of SPEC[infno] ?? []) if (sn.node === node && sn.direction === 'input') for (const f of sn.fields) known.add(f[0])
  for (const g of ALIASES[`${infno}.${node}`] ?? []) for (const n of g) known.add(n)
  for (const n of EXP_CONTENT_NAMES) known.delete(n)
  knownCache.set(key, known)
  return known
}

/** The object a rule list describes: the row's unknown extra fields as they are, then every mapped field. */
function build(rules: readonly FieldRule[], ctx: Ctx, extrasFrom: Obj | undefined, node: string): Obj {
  const out: Obj = {}
  if (extrasFrom) {
    const known = knownFields(ctx.infno, node)
    for (const [k, v] of Object.entries(extrasFrom)) if (!known.has(k) && !empty(v)) out[k] = v
  }
  for (const rule of rules) {
    const v = resolve(rule, ctx)
    if (v === undefined) delete out[rule.to]
    else out[rule.to] = v
  }
  return out
}

function resolve(rule: FieldRule, ctx: Ctx): unknown {
  for (const src of rule.from) {
    const got = read(src, ctx)
    if (empty(got.value)) continue
    return convert(rule.via, got.value, got.where, ctx)
  }
  if (rule.need) {
    const src = rule.from[0]!
    const field = src.replace(/^out\.(exp\.)?/, '')
    return refuse(`national.missing@${ctx.infno}.${ctx.outputName}.${field}`, `output ${ctx.outputName}.${field} is needed and missing${ctx.out === undefined ? ' (no response with that output was logged)' : ''}`)
  }
  return undefined
}

/** A source's value and where it sits (for a reason naming the node and field). */
function read(src: string, ctx: Ctx): { value: unknown; where: string } {
  const dot = src.indexOf('.')
  const colon = src.indexOf(':')
  if (colon !== -1 && (dot === -1 || colon < dot)) {
    const kind = src.slice(0, colon)
    const arg = src.slice(colon + 1)
    if (kind === 'const') return { value: arg, where: 'const' }
    return { value: DERIVE[arg]!(ctx), where: `${ctx.tx.node}` }
  }
  const scope = src.slice(0, dot)
  const rest = src.slice(dot + 1)
  switch (scope) {
    case 'in':
      return { value: ctx.row[rest], where: `${ctx.tx.node}.${rest}` }
    case 'env':
      return { value: ctx.env[rest], where: `envelope.${rest}` }
    case 'exp':
      return { value: expContent(ctx.row, ctx, ctx.tx.node!)[rest], where: `${ctx.tx.node}.expContent.${rest}` }
    case 'out': {
      if (rest.startsWith('exp.')) return { value: ctx.out ? expContent(ctx.out, ctx, ctx.outputName)[rest.slice(4)] : undefined, where: `${ctx.outputName}.expContent.${rest.slice(4)}` }
      return { value: ctx.out?.[rest], where: `${ctx.outputName}.${rest}` }
    }
  }
  throw new Error(`mapping source ${src}`)
}

/** fundwatch's keys in a row's expContent (object, or a JSON string); anything else in it is left alone. */
function expContent(row: Obj, ctx: Ctx, node: string): Obj {
  for (const name of EXP_CONTENT_NAMES) {
    const v = row[name]
    if (isObj(v)) return v
    if (typeof v === 'string' && v.trim().startsWith('{')) {
      try {
        const parsed: unknown = JSON.parse(v)
        if (isObj(parsed)) return parsed
      } catch {
        refuse(`national.invalid@${ctx.infno}.${node}.${name}`, `${node}.${name} starts like a JSON object but is not JSON`)
      }
    }
  }
  return {}
}

const scalar = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined)
const text = (v: unknown): string | undefined => scalar(v)

function invalid(ctx: Ctx, where: string, v: unknown, why: string): never {
  const reason = where.startsWith('envelope.') ? `national.envelope@${where.slice(9)}` : `national.invalid@${ctx.infno}.${where}`
  return refuse(reason, `${where} ${JSON.stringify(v)?.slice(0, 60)}: ${why}`)
}

function convert(via: Via | undefined, v: unknown, where: string, ctx: Ctx): unknown {
  if (via === undefined) return typeof v === 'number' ? String(v) : v
  const s = scalar(v)
  switch (via) {
    case 'text':
      return s ?? invalid(ctx, where, v, 'not a string or number')
    case 'datetime': {
      const m = s === undefined ? null : DT.exec(s)
      return m ? `${m[1]}T${m[2]}+08:00` : invalid(ctx, where, v, 'not yyyy-MM-dd HH:mm:ss')
    }
    case 'onDay': {
      if (s === undefined || !D.test(s)) return invalid(ctx, where, v, 'not yyyy-MM-dd')
      const sent = DT.exec(String(ctx.env.inf_time))!
      return sent[1] === s ? `${s}T${sent[2]}+08:00` : `${s}T00:00:00+08:00`
    }
    case 'medType':
      return s === undefined ? invalid(ctx, where, v, 'not a code') : contractMedType(s)
    case 'days': {
      const n = Number(s)
      if (s === undefined || !Number.isInteger(n)) return invalid(ctx, where, v, 'not a whole number of days')
      return n === 0 ? undefined : n
    }
    case 'listType':
      return listTypeOf(s)
    case 'invChgKind':
      return (s !== undefined ? INV_CHG_KINDS[s] : undefined) ?? invalid(ctx, where, v, `not a 库存变更类型 fundwatch knows (${Object.keys(INV_CHG_KINDS).join(', ')})`)
    case 'payGroup': {
      if (!isObj(v)) return invalid(ctx, where, v, 'pay_grp must be an object {type, code, weight}')
      return { ...v, type: v.type, code: scalar(v.code) ?? v.code, weight: scalar(v.weight) ?? v.weight }
    }
    case 'operations': {
      if (!Array.isArray(v) || !v.every(isObj)) return invalid(ctx, where, v, 'operations must be a list of {oprn_oprt_code, oprn_oprt_date}')
      return v.map((o) => {
        const date = scalar(o.oprn_oprt_date)
        const m = date === undefined ? null : DT.exec(date)
        return { ...o, oprn_oprt_code: scalar(o.oprn_oprt_code) ?? o.oprn_oprt_code, oprn_oprt_date: m ? `${m[1]}T${m[2]}+08:00` : (date ?? o.oprn_oprt_date) }
      })
    }
  }
}

const diag = (row: Obj, main: string | undefined) => ({ diag_code: text(row.diag_code), diag_name: text(row.diag_name), maindiag_flag: main ?? text(row.maindiag_flag) })

/** The values one field cannot take from one source (mapping.ts `derive:`). */
const DERIVE: Readonly<Record<string, (ctx: Ctx) => unknown>> = {
  none: () => [],
  psn: (ctx) => {
    const row = ctx.row
    const certType = scalar(row.psn_cert_type) ?? scalar(row.cert_type) ?? ''
    const certno = scalar(row.certno) ?? ''
    const fromCertno = RESIDENT_ID_CERT_TYPES.includes(certType) ? personFromResidentId(certno) : undefined
    const fromCard = !fromCertno && scalar(row.mdtrt_cert_type) === MDTRT_CERT_RESIDENT_ID ? personFromResidentId(scalar(row.mdtrt_cert_no) ?? '') : undefined
    const base = fromCertno ?? fromCard
    if (!base) return undefined
    const name = scalar(row.psn_name)
    return { ...base, ...(fromCertno ? { certno } : {}), ...(empty(name) ? {} : { psn_name: name }) }
  },
  validDiagnoses: (ctx) => {
    const rows = ctx.nodes.get('diseinfo')
    if (!rows) return undefined
    return rows
      .filter((row) => scalar(row.vali_flag) === '1')
      .sort((a, b) => Number(scalar(a.diag_srt_no)) - Number(scalar(b.diag_srt_no)))
      .map((row) => diag(row, Number(scalar(row.diag_srt_no)) === 1 ? '1' : '0'))
  },
  diagnoses: (ctx) => ctx.nodes.get('diseinfo')?.map((row) => diag(row, undefined)),
  mainDiagnosis: (ctx) => {
    const main = ctx.nodes.get('diseinfo')?.find((row) => scalar(row.maindiag_flag) === '1')
    return main ? text(main.diag_code) : refuse(`national.missing@${ctx.infno}.diseinfo.maindiag_flag`, 'no diseinfo row with maindiag_flag 1: the discharge has no main diagnosis')
  },
  operation: (ctx) => {
    const code = scalar(ctx.row.oprn_oprt_code)
    const end = scalar(ctx.row.endtime)
    if (empty(code) || end === undefined) return undefined
    return [{ oprn_oprt_code: code, oprn_oprt_date: end.slice(0, 10) }]
  },
  feedetlSns: (ctx) => {
    const sns = ctx.group.map((row) => scalar(row.feedetl_sn) ?? '').filter((sn) => sn !== '0000' && sn !== '')
    return sns.length ? sns : undefined
  },
  allUnsettled: (ctx) => (ctx.group.some((row) => scalar(row.feedetl_sn) === '0000') ? '0000' : undefined),
  drugTracCodgs: (ctx) => {
    const list = ctx.row.drugtracinfo
    if (list !== undefined && list !== null) {
      if (!Array.isArray(list) || !list.every(isObj)) return refuse(`national.invalid@${ctx.infno}.${ctx.tx.node}.drugtracinfo`, 'drugtracinfo must be a list of {drug_trac_codg}')
      const codes = list.map((x) => scalar(x.drug_trac_codg)).filter((c): c is string => !empty(c))
      if (codes.length) return codes
    }
    const one = scalar(ctx.row.drug_trac_codg)
    return empty(one) ? undefined : [one]
  },
}
