import { createHash } from 'node:crypto'
import { LineCounter, parseDocument } from 'yaml'
import { FundwatchError } from '../errors.ts'
import { DetectEngine } from './engine.ts'
import type { Detector } from './types.ts'

/**
 * The rule base as a file: parsed (YAML, JSON is YAML too), validated against
 * the rule-base schema and every detector's own parameter schema, with errors
 * that name the line. How a text becomes the version in force, on every
 * replica: src/detect/rulebase-store.ts.
 */
export function parseRules(text: string, registry: readonly Detector[], source = 'rules'): { config: unknown; engine: DetectEngine } {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  if (doc.errors.length) {
    const e = doc.errors[0]!
    const at = lines.linePos(e.pos[0])
    throw new FundwatchError('RULEBASE_INVALID', `${source}:${at.line}:${at.col}: ${e.message.split('\n')[0]}`)
  }
  const config = doc.toJS() ?? {}
  try {
    return { config, engine: new DetectEngine(registry, config) }
  } catch (err) {
    if (!(err instanceof FundwatchError)) throw err
    // The engine names a dotted path (detectors.<id>.params.<name>); point at its line.
    const path = /^(?:rule base: )?([\w.-]+)/.exec(err.message.replace(/^detectors\./, 'detectors.'))?.[1]
    const node = path ? deepestNode(doc, path.split('.')) : undefined
    const line = node?.range ? lines.linePos(node.range[0]).line : undefined
    throw new FundwatchError('RULEBASE_INVALID', `${source}${line ? `:${line}` : ''}: ${err.message}`, { cause: err })
  }
}

function deepestNode(doc: ReturnType<typeof parseDocument>, path: string[]): { range?: [number, number, number] | null } | undefined {
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] | null } | undefined
    if (node && typeof node === 'object') return node
  }
  return undefined
}

export function rulesHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12)
}
