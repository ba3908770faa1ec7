// Writes each detector README's parameter table from its zod schema, and the
// catalog table in detectors/README.md from the registry, so the docs cannot
// say something the code does not. `--check` fails when a committed file has
// drifted (CI runs it), without writing anything.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { detectors } from '../detectors/index.ts'
import { nationalRule, nationalRules } from '../src/detect/rulebase.ts'

const root = join(import.meta.dirname, '..', 'detectors')

interface JsonProp {
  type?: string
  enum?: unknown[]
  items?: JsonProp
  default?: unknown
  description?: string
  /** The Chinese description: `.meta({ description_zh })` next to `.describe()`. */
  description_zh?: string
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
}

// zod writes Number.MAX_SAFE_INTEGER as the maximum of every int(): not a real bound.
const NO_BOUND = Number.MAX_SAFE_INTEGER

function typeOf(p: JsonProp): string {
  if (p.enum) return p.enum.map((v) => JSON.stringify(v)).join(' \\| ')
  if (p.type === 'array') {
    const inner = p.items ? typeOf(p.items) : 'unknown'
    return p.items?.enum ? `(${inner})[]` : `${inner}[]`
  }
  const t = p.type ?? 'unknown'
  const lo = p.minimum ?? p.exclusiveMinimum
  const hi = p.maximum !== undefined && Math.abs(p.maximum) < NO_BOUND ? p.maximum : p.exclusiveMaximum
  if ((t === 'number' || t === 'integer') && (lo !== undefined || hi !== undefined)) {
    const l = lo === undefined ? '' : `${p.exclusiveMinimum !== undefined ? '>' : '≥'} ${lo}`
    const h = hi === undefined ? '' : `${p.exclusiveMaximum !== undefined ? '<' : '≤'} ${hi}`
    return `${t} (${[l, h].filter(Boolean).join(', ')})`
  }
  return t
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

/** The Markdown table of a detector's parameters: name, type, default, description. */
export function renderParams(params: z.ZodObject): string {
  const json = z.toJSONSchema(params, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, JsonProp> }
  const rows = Object.entries(json.properties ?? {}).map(([name, p]) =>
    `| \`${name}\` | ${typeOf(p)} | ${p.default === undefined ? '—' : `\`${cell(JSON.stringify(p.default))}\``} | ${cell(p.description ?? '')} | ${cell(p.description_zh ?? '')} |`)
  if (rows.length === 0) return 'This detector has no parameters.'
  return ['| name | type | default | description | 说明 |', '|---|---|---|---|---|', ...rows].join('\n')
}

/** The catalog table of detectors/README.md. */
export function renderCatalog(): string {
  const rows = [...detectors].sort((a, b) => a.id.localeCompare(b.id)).map((d) => {
    const when = d.kind === 'stream' ? d.reactsTo.join(', ') : 'schedule'
    return `| [\`${d.id}\`](${d.id}/README.md) | ${nationalRule(d.id)?.rule_id ?? '—'} | ${d.pattern.zh} / ${d.pattern.en} | ${d.kind} | ${d.stages.join(', ')} | ${when} | ${d.result} | ${d.severity} | ${d.version} |`
  })
  return ['| id | rule id | pattern | kind | stages | reacts to | result | severity | version |', '|---|---|---|---|---|---|---|---|---|', ...rows].join('\n')
}

/** The national rule list of docs/national.md: rule id, name, behaviour class, detector, stages. */
export function renderNationalRules(): string {
  const rows = nationalRules().map((r) => {
    const d = detectors.find((x) => x.id === r.detector)
    const stages = d ? d.stages.join(', ') : '—'
    return `| \`${r.rule_id}\` | ${r.rule_name} | ${r.vola_bhvr_type === '1' ? '1 就诊类/行为类' : '2 项目类'} | [\`${r.detector}\`](../detectors/${r.detector}/README.md) | ${stages} |`
  })
  return ['| rule_id | rule_name | vola_bhvr_type | detector | stages |', '|---|---|---|---|---|', ...rows].join('\n')
}

/** Replaces what lies between the two markers; throws when a marker is missing. */
export function between(doc: string, name: string, body: string, file: string): string {
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const i = doc.indexOf(start)
  const j = doc.indexOf(end)
  if (i < 0 || j < i) throw new Error(`${file}: needs the markers ${start} and ${end}`)
  return `${doc.slice(0, i + start.length)}\n${body}\n${doc.slice(j)}`
}

/** Every generated file with its expected text. */
export function render(): Map<string, string> {
  const files = new Map<string, string>()
  for (const d of detectors) {
    const path = join(root, d.id, 'README.md')
    if (!existsSync(path)) throw new Error(`detectors/${d.id}/README.md is missing`)
    files.set(path, between(readFileSync(path, 'utf8'), 'params', renderParams(d.params), path))
  }
  const catalog = join(root, 'README.md')
  files.set(catalog, between(readFileSync(catalog, 'utf8'), 'catalog', renderCatalog(), catalog))
  const national = join(root, '..', 'docs', 'national.md')
  files.set(national, between(readFileSync(national, 'utf8'), 'national-rules', renderNationalRules(), national))
  return files
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes('--check')
  let drift = 0
  const files = render()
  for (const [path, text] of files) {
    if (readFileSync(path, 'utf8') === text) continue
    if (check) {
      console.error(`${path} is out of date with the detector code: run npx tsx scripts/gen-detector-docs.ts`)
      drift++
    } else writeFileSync(path, text)
  }
  if (drift) process.exit(1)
  console.log(check ? `detector docs match the code (${files.size} files)` : `wrote detector docs (${files.size} files checked)`)
}
