import { Scalar, isMap, isNode, parseDocument, type Document } from 'yaml'

// The console edits one detector at a time but the server takes (and records,
// and versions) the rule base whole: the text sent is the text in force with
// that detector's entry rewritten in place. It is edited as a YAML document,
// not rebuilt from data, so what an analyst did not touch — other detectors,
// key order, comments, quoting — stays byte for byte as it was, and the change
// reviews as a small diff in git (`fundwatch rules export`).

export type Mode = 'on' | 'shadow' | 'off'
export const MODES: readonly Mode[] = ['on', 'shadow', 'off']

export interface RuleScope { admdvs?: string[]; levels?: number[]; types?: string[]; med_types?: string[] }

/** One detector's rule as the form holds it. Undefined = the detector's own default applies. */
export interface RuleEdit {
  mode: Mode
  /** Parameter values from the form; a parameter left out takes its default. */
  params: Record<string, unknown>
  severity?: string
  result?: string
  /** Stages to restrict to; undefined = every stage the detector supports. */
  stages?: string[]
  scope: RuleScope
}

/** The detector's entry as written in the text (raw, defaults not filled in), and the mode it runs in. */
export interface RuleInText {
  entry: Record<string, unknown> | undefined
  mode: Mode
}

function parse(text: string): Document {
  const doc = parseDocument(text)
  // The text in force passed the server's validation; a text that does not parse here is not one.
  if (doc.errors.length) throw new Error(`rule base text does not parse: ${doc.errors[0]!.message}`)
  return doc
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
}

/**
 * A detector's entry and mode. The mode follows the server's reading
 * (src/detect/rulebase.ts): `mode` when written, else `enabled: false` = off,
 * else an entry runs; a detector with no entry takes the defaults.
 */
export function readRule(text: string, id: string): RuleInText {
  const js = asObject(parse(text).toJS()) ?? {}
  const entry = asObject(asObject(js.detectors)?.[id])
  const defaults = asObject(js.defaults) ?? {}
  const modeOf = (o: Record<string, unknown>, otherwise: Mode): Mode =>
    typeof o.mode === 'string' && (MODES as readonly string[]).includes(o.mode) ? (o.mode as Mode) : o.enabled === false ? 'off' : o.enabled === true ? 'on' : otherwise
  const fallback = modeOf(defaults, 'on')
  return { entry, mode: entry ? modeOf(entry, 'on') : fallback }
}

/** Stable JSON (sorted keys): equal values compare equal whatever their key order. */
export function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`
  return JSON.stringify(v)
}
const same = (a: unknown, b: unknown): boolean => stable(a) === stable(b)

/**
 * The entry to write for an edit: `mode` always (explicit in review, and
 * independent of `defaults`); a parameter when it differs from its default or
 * the entry already named it (an analyst's pinned value stays pinned); the
 * judgement, stages and scope only when set. `enabled` is never written: the
 * mode replaces it.
 */
export function ruleEntry(edit: RuleEdit, defaults: Record<string, unknown>, before: Record<string, unknown> | undefined): Record<string, unknown> {
  const pinned = asObject(before?.params) ?? {}
  const params: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(edit.params)) {
    if (v === undefined) continue
    if (k in pinned || !same(v, defaults[k])) params[k] = v
  }
  const scope: Record<string, unknown> = {}
  for (const k of ['admdvs', 'levels', 'types', 'med_types'] as const) {
    const v = edit.scope[k]
    if (v && v.length) scope[k] = v
  }
  const out: Record<string, unknown> = { mode: edit.mode }
  if (edit.severity) out.severity = edit.severity
  if (edit.result) out.result = edit.result
  if (edit.stages) out.stages = edit.stages
  if (Object.keys(params).length) out.params = params
  if (Object.keys(scope).length) out.scope = scope
  return out
}

/** The whole rule-base text with detector `id`'s entry replaced by `entry`, everything else as it was. */
export function withRule(text: string, id: string, entry: Record<string, unknown>): string {
  const doc = parse(text)
  if (!isMap(doc.getIn(['detectors'], true))) doc.setIn(['detectors'], doc.createNode({}))
  reconcile(doc, ['detectors', id], entry)
  return doc.toString({ flowCollectionPadding: false })
}

/** Changes only what differs, key by key, so comments and layout on the untouched keys stay. */
function reconcile(doc: Document, path: string[], value: unknown): void {
  const node = doc.getIn(path, true)
  const obj = asObject(value)
  if (obj) {
    if (!isMap(node)) doc.setIn(path, doc.createNode({}))
    const map = doc.getIn(path, true)
    if (isMap(map)) {
      for (const item of [...map.items]) {
        const key = item.key instanceof Scalar ? String(item.key.value) : String(item.key)
        if (!(key in obj)) map.delete(item.key)
      }
    }
    for (const [k, v] of Object.entries(obj)) reconcile(doc, [...path, k], v)
    return
  }
  if (node !== undefined && same(isNode(node) ? node.toJS(doc) : node, value)) return
  doc.setIn(path, node_(doc, path[path.length - 1]!, value))
}

function node_(doc: Document, key: string, value: unknown): unknown {
  // `on`/`off` are booleans to a YAML 1.1 reader (and to many tools that review the file): quote the mode.
  if (key === 'mode' && typeof value === 'string') {
    const s = new Scalar(value)
    s.type = Scalar.QUOTE_DOUBLE
    return s
  }
  // Lists of codes read best on one line: `med_types: ["21", "22"]`.
  return doc.createNode(value, { flow: Array.isArray(value) })
}

/** The line a RULEBASE_INVALID message names (`<source>:<line>[:<col>]: …`, src/detect/rules-file.ts), if any. */
export function errorLine(message: string): number | undefined {
  const m = /^[^\s:]*:(\d+)(?::\d+)?:/.exec(message)
  return m ? Number(m[1]) : undefined
}
