// Writes the mapping and variant tables of docs/national.md from
// src/national/mapping.ts and src/national/variants.ts (between their
// markers), so the doc cannot say something the adapter does not do.
// `--check` fails when the committed doc has drifted, without writing.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { INV_CHG_KINDS, NOT_CARRIED, TRANSACTIONS, type FieldRule, type TxRule, type Via } from '../src/national/mapping.ts'
import { ALIASES, ENVELOPE_EXTRAS, EXP_CONTENT_NAMES, MED_TYPE_CODES, OUTPUT_ALIASES, RESIDENT_ID_CERT_TYPES, TEXT_IDS } from '../src/national/variants.ts'

const file = join(import.meta.dirname, '..', 'docs', 'national.md')
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
const code = (s: string) => `\`${s}\``

const VIA: Record<Exclude<Via, 'text'>, string> = {
  datetime: 'DT → RFC 3339 +08:00',
  onDay: 'D → inf_time when sent that day, else 00:00 +08:00',
  medType: 'provincial codes normalised',
  days: 'integer; 0 / "" absent',
  listType: '09/11 drug, 10 herb, 08 consumable, else service',
  invChgKind: 'INV_CHG_KINDS below',
  payGroup: '{type, code, weight} (weight as text)',
  operations: 'dates: DT → RFC 3339, D kept',
}

function source(src: string, tx: TxRule): string {
  const outNode = tx.output && tx.infno === '2201' ? `output.${tx.output}` : tx.output
  if (src.startsWith('const:')) return code(JSON.stringify(src.slice(6)))
  if (src.startsWith('derive:')) return `(${src.slice(7)})`
  const [scope, ...rest] = src.split('.')
  const field = rest.join('.')
  switch (scope) {
    case 'in': return code(`${tx.node}.${field}`)
    case 'env': return code(`envelope.${field}`)
    case 'exp': return code(`${tx.node}.expContent.${field}`)
    case 'out': return code(field.startsWith('exp.') ? `${outNode}.expContent.${field.slice(4)}` : `${outNode}.${field}`)
  }
  throw new Error(`unknown source ${src}`)
}

function row(tx: TxRule, target: string, rule: FieldRule): string {
  const how = [rule.via && rule.via !== 'text' ? VIA[rule.via] : '', rule.need ? '**required output**' : '', rule.note ?? ''].filter(Boolean).join('; ')
  return `| | | | ${code(target)} | ${rule.from.map((s) => source(s, tx)).join(' else ')} | ${cell(how)} |`
}

export function renderMapping(): string {
  const out = ['| infno | 交易 | contract event | field | from (first non-empty) | how |', '|---|---|---|---|---|---|']
  for (const tx of TRANSACTIONS) {
    if (tx.ignored) {
      out.push(`| ${tx.infno} | ${tx.name} | — ignored, counted | | | ${cell(tx.ignored)} |`)
      continue
    }
    const rows = tx.rows === 'one' ? 'one event' : tx.rows === 'each' ? 'one event per row' : 'one event per mdtrt_id (first appearance)'
    out.push(`| ${tx.infno} | ${tx.name} | ${code(tx.event!)} | *rows* | ${code(tx.node!)} | ${cell(rows + (tx.note ? `; ${tx.note}` : ''))} |`)
    for (const rule of tx.payload ?? []) out.push(row(tx, rule.to, rule))
    for (const rule of tx.lines ?? []) out.push(row(tx, `lines[].${rule.to}`, rule))
  }
  out.push('', '3502 `inv_chg_type` → `kind`:', '', '| inv_chg_type | kind |', '|---|---|')
  for (const [k, v] of Object.entries(INV_CHG_KINDS)) out.push(`| ${k} | ${code(v)} |`)
  out.push('', 'Contract fields no transaction carries:', '', '| field | why |', '|---|---|')
  for (const [k, v] of Object.entries(NOT_CARRIED)) out.push(`| ${code(k)} | ${cell(v)} |`)
  return out.join('\n')
}

export function renderVariants(): string {
  const out = ['| what | accepted |', '|---|---|']
  for (const [where, groups] of Object.entries(ALIASES)) for (const g of groups) out.push(`| ${code(where)} field spelt differently | ${g.map(code).join(' or ')} (one field: required when both provinces require one of its names) |`)
  for (const [field, names] of Object.entries(OUTPUT_ALIASES)) out.push(`| settlement output ${code(field)} | ${names.map(code).join(' or ')} |`)
  out.push(`| 医疗类别 provincial codes | ${Object.entries(MED_TYPE_CODES).map(([k, v]) => `${k} → ${v}`).join(', ')} |`)
  out.push(`| 证件类型 meaning 居民身份证 | ${RESIDENT_ID_CERT_TYPES.map((c) => code(JSON.stringify(c))).join(', ')} |`)
  out.push(`| extension field | ${EXP_CONTENT_NAMES.map(code).join(' or ')}, an object or a JSON string |`)
  out.push(`| identifiers printed N, taken as text ids (Hunan V1.2 wants digits; older HIS send letters too) | ${TEXT_IDS.map(code).join(", ")} |`)
  for (const e of ENVELOPE_EXTRAS) out.push(`| envelope ${code(e.field)} (${e.where}) | ${cell(e.use)} |`)
  return out.join('\n')
}

function splice(doc: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const i = doc.indexOf(start)
  const j = doc.indexOf(end)
  if (i === -1 || j === -1 || j < i) throw new Error(`docs/national.md: markers ${start} … ${end} missing`)
  return `${doc.slice(0, i + start.length)}\n${body}\n${doc.slice(j)}`
}

const doc = readFileSync(file, 'utf8')
const next = splice(splice(doc, 'national-mapping', renderMapping()), 'national-variants', renderVariants())
if (process.argv.includes('--check')) {
  if (next !== doc) {
    console.error('docs/national.md is out of date with src/national/mapping.ts: run `npm run docs`')
    process.exit(1)
  }
  console.log('docs/national.md matches src/national (mapping and variants)')
} else if (next !== doc) {
  writeFileSync(file, next)
  console.log('wrote docs/national.md')
}
