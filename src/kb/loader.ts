import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { z } from 'zod'
import { KB_FILES, type KbKind } from '../../schemas/kb.ts'
import { FundwatchError } from '../errors.ts'
import type { Store } from '../store/store.ts'
import { KnowledgeBase, type KbData } from './knowledge-base.ts'

/**
 * Reads and writes the knowledge base (知识库): from a directory of files
 * (`<table>.jsonl` or `<table>.csv`) or from ClickHouse tables (`kb_<table>`).
 * Every row is validated with the zod schemas of schemas/kb.ts; a bad row fails
 * the whole load with an error naming file, line and field, because a half
 * loaded catalog would silently turn violations into clean claims.
 */

export const KB_TABLES = Object.keys(KB_FILES) as KbKind[]
export type KbFormat = 'jsonl' | 'csv'

/** The separator of list fields (indications, includes …) inside one CSV cell. */
export const CSV_LIST_SEPARATOR = '|'

type ColumnKind = 'string' | 'number' | 'boolean' | 'array'
interface Column {
  name: string
  kind: ColumnKind
  /** Absent allowed (zod optional); fields with a default are always present after parsing. */
  optional: boolean
}

/** Store key (ORDER BY) of each table: ReplacingMergeTree keeps the last row per key. */
const TABLE_KEYS: Record<KbKind, string[]> = {
  catalog: ['med_list_codg'],
  institutions: ['fixmedins_code'],
  doctors: ['dr_code'],
  persons: ['psn_no'],
  groups: ['type', 'code'],
  diagnoses: ['diag_code'],
}

interface ZodDefLike {
  type: string
  innerType?: z.ZodType
  options?: z.ZodType[]
  values?: unknown[]
}
function defOf(t: z.ZodType): ZodDefLike {
  return (t as unknown as { _zod: { def: ZodDefLike } })._zod.def
}

function kindOf(t: z.ZodType): ColumnKind {
  const def = defOf(t)
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'nullable':
    case 'readonly':
      return kindOf(def.innerType!)
    case 'union':
      return kindOf(def.options![0]!)
    case 'literal':
      return typeof def.values![0] === 'number' ? 'number' : typeof def.values![0] === 'boolean' ? 'boolean' : 'string'
    case 'number':
    case 'int':
      return 'number'
    case 'boolean':
      return 'boolean'
    case 'array':
      return 'array'
    default:
      return 'string'
  }
}

const columnCache = new Map<KbKind, Column[]>()
/** The columns of a table, in schema order: the CSV header and the ClickHouse columns. */
export function kbColumns(kind: KbKind): Column[] {
  let cols = columnCache.get(kind)
  if (!cols) {
    const shape = (KB_FILES[kind] as unknown as z.ZodObject).shape as Record<string, z.ZodType>
    cols = Object.entries(shape).map(([name, t]) => ({ name, kind: kindOf(t), optional: defOf(t).type === 'optional' }))
    columnCache.set(kind, cols)
  }
  return cols
}

export function emptyKbData(): KbData {
  return { catalog: [], institutions: [], doctors: [], persons: [], groups: [], diagnoses: [] }
}

function invalid(file: string, line: number, field: string | undefined, message: string): FundwatchError {
  const where = field === undefined ? `${file} line ${line}` : `${file} line ${line} field ${field}`
  return new FundwatchError('KB_INVALID', `knowledge base: ${where}: ${message}`)
}

/** Validates one raw row; unknown fields are refused so a misspelt column cannot silently drop a restriction. */
function parseRow<K extends KbKind>(kind: K, raw: Record<string, unknown>, file: string, line: number): KbData[K][number] {
  const known = new Set(kbColumns(kind).map((c) => c.name))
  for (const k of Object.keys(raw)) if (!known.has(k)) throw invalid(file, line, k, 'unknown field')
  const res = KB_FILES[kind].safeParse(raw)
  if (!res.success) {
    const issue = res.error.issues[0]!
    const field = issue.path.length ? issue.path.join('.') : undefined
    throw invalid(file, line, field, issue.message)
  }
  return res.data as KbData[K][number]
}

// ---------------------------------------------------------------- CSV

/** RFC 4180 records with the line each starts on; quoted cells may hold commas, quotes ("") and newlines. */
export function parseCsv(text: string, file = 'csv'): { line: number; cells: string[] }[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  const records: { line: number; cells: string[] }[] = []
  let cells: string[] = []
  let cell = ''
  let line = 1
  let recordLine = 1
  let i = 0
  let quoted = false
  let atCellStart = true
  const n = text.length
  const endRecord = (): void => {
    cells.push(cell)
    if (!(cells.length === 1 && cells[0] === '')) records.push({ line: recordLine, cells })
    cells = []
    cell = ''
    atCellStart = true
  }
  while (i < n) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"'
          i += 2
          continue
        }
        quoted = false
        i++
        const next = text[i]
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') throw invalid(file, line, undefined, 'text after a closing quote')
        continue
      }
      if (ch === '\n') line++
      cell += ch
      i++
      continue
    }
    if (ch === '"' && atCellStart) {
      quoted = true
      atCellStart = false
      i++
      continue
    }
    if (ch === ',') {
      cells.push(cell)
      cell = ''
      atCellStart = true
      i++
      continue
    }
    if (ch === '\r' || ch === '\n') {
      endRecord()
      if (ch === '\r' && text[i + 1] === '\n') i++
      i++
      line++
      recordLine = line
      continue
    }
    cell += ch
    atCellStart = false
    i++
  }
  if (quoted) throw invalid(file, recordLine, undefined, 'unterminated quoted cell')
  if (cell !== '' || cells.length) endRecord()
  return records
}

function csvCellToValue(col: Column, cell: string): unknown {
  switch (col.kind) {
    case 'string':
      return cell
    case 'number': {
      const v = Number(cell)
      // Left as text when not a number, so zod names the field and the expected type.
      return cell.trim() !== '' && Number.isFinite(v) ? v : cell
    }
    case 'boolean':
      return cell === 'true' ? true : cell === 'false' ? false : cell
    case 'array':
      return cell.split(CSV_LIST_SEPARATOR).map((s) => s.trim()).filter((s) => s !== '')
  }
}

function rowsFromCsv<K extends KbKind>(kind: K, text: string, file: string): KbData[K] {
  const records = parseCsv(text, file)
  if (records.length === 0) return [] as unknown as KbData[K]
  const header = records[0]!.cells.map((h) => h.trim())
  const cols = new Map(kbColumns(kind).map((c) => [c.name, c]))
  const seen = new Set<string>()
  for (const h of header) {
    if (!cols.has(h)) throw invalid(file, 1, h, 'unknown column')
    if (seen.has(h)) throw invalid(file, 1, h, 'column appears twice')
    seen.add(h)
  }
  const out: KbData[K][number][] = []
  for (let r = 1; r < records.length; r++) {
    const { line, cells } = records[r]!
    if (cells.length !== header.length) throw invalid(file, line, undefined, `${cells.length} cells, the header has ${header.length}`)
    const raw: Record<string, unknown> = {}
    for (let c = 0; c < header.length; c++) {
      const cell = cells[c]!
      // An empty cell is an absent value, so optional fields stay unset and defaults apply.
      if (cell === '') continue
      raw[header[c]!] = csvCellToValue(cols.get(header[c]!)!, cell)
    }
    out.push(parseRow(kind, raw, file, line))
  }
  return out as unknown as KbData[K]
}

function csvQuote(s: string): string {
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s
}

function csvFromRows(kind: KbKind, rows: readonly object[]): string {
  const cols = kbColumns(kind)
  const out = [cols.map((c) => c.name).join(',')]
  for (const row of rows) {
    const r = row as Record<string, unknown>
    out.push(cols.map((c) => {
      const v = r[c.name]
      if (v === undefined || v === null) return ''
      if (Array.isArray(v)) {
        for (const x of v) if (String(x).includes(CSV_LIST_SEPARATOR)) throw new FundwatchError('KB_INVALID', `${kind}.${c.name}: "${String(x)}" contains the list separator "${CSV_LIST_SEPARATOR}"`)
        return csvQuote(v.join(CSV_LIST_SEPARATOR))
      }
      return csvQuote(String(v))
    }).join(','))
  }
  return out.join('\n') + '\n'
}

// ---------------------------------------------------------------- JSON lines

function rowsFromJsonl<K extends KbKind>(kind: K, text: string, file: string): KbData[K] {
  const out: KbData[K][number][] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i]!.trim()
    if (s === '') continue
    let raw: unknown
    try {
      raw = JSON.parse(s)
    } catch (cause) {
      throw invalid(file, i + 1, undefined, `not valid JSON (${(cause as Error).message})`)
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(file, i + 1, undefined, 'a row must be a JSON object')
    out.push(parseRow(kind, raw as Record<string, unknown>, file, i + 1))
  }
  return out as unknown as KbData[K]
}

// ---------------------------------------------------------------- directory

/** sha256 over the content, first 12 hex: the version every alert can cite. */
function versionOf(parts: readonly string[]): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(p).update('\0')
  return h.digest('hex').slice(0, 12)
}

/** Reads and validates the files of a KB directory; a missing table is an empty one. */
export async function readKnowledgeBaseDir(dir: string): Promise<{ data: KbData; version: string }> {
  const data = emptyKbData()
  const parts: string[] = []
  for (const kind of KB_TABLES) {
    const jsonl = join(dir, `${kind}.jsonl`)
    const csv = join(dir, `${kind}.csv`)
    const hasJsonl = existsSync(jsonl)
    const hasCsv = existsSync(csv)
    if (hasJsonl && hasCsv) throw new FundwatchError('KB_INVALID', `knowledge base: both ${kind}.jsonl and ${kind}.csv in ${dir}; keep one`)
    if (!hasJsonl && !hasCsv) continue
    const file = hasJsonl ? `${kind}.jsonl` : `${kind}.csv`
    let text: string
    try {
      text = await readFile(join(dir, file), 'utf8')
    } catch (cause) {
      throw new FundwatchError('KB_INVALID', `knowledge base: cannot read ${file}: ${(cause as Error).message}`, { cause })
    }
    parts.push(file, text)
    ;(data as unknown as Record<KbKind, unknown[]>)[kind] = hasJsonl ? rowsFromJsonl(kind, text, file) : rowsFromCsv(kind, text, file)
  }
  return { data, version: versionOf(parts) }
}

export async function loadKnowledgeBase(dir: string): Promise<KnowledgeBase> {
  if (!existsSync(dir)) throw new FundwatchError('KB_INVALID', `knowledge base: directory ${dir} does not exist`)
  const { data, version } = await readKnowledgeBaseDir(dir)
  return new KnowledgeBase(data, version)
}

/** Writes every table as `<table>.jsonl` or `<table>.csv`; other-format files of the same tables must not be left behind by the caller. */
export async function writeKnowledgeBase(dir: string, data: KbData, format: KbFormat = 'jsonl'): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const written: string[] = []
  for (const kind of KB_TABLES) {
    const rows = data[kind] as readonly object[]
    const file = join(dir, `${kind}.${format}`)
    const text = format === 'csv' ? csvFromRows(kind, rows) : rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '')
    await writeFile(file, text)
    written.push(file)
  }
  return written
}

/** Validates in-memory rows (defaults applied) into a KnowledgeBase; the version hashes the validated content. */
export function kbFromRows(data: Partial<KbData>): KnowledgeBase {
  const parsed = emptyKbData()
  const parts: string[] = []
  for (const kind of KB_TABLES) {
    const rows = (data[kind] ?? []) as readonly object[]
    const out = rows.map((r, i) => parseRow(kind, r as Record<string, unknown>, kind, i + 1))
    ;(parsed as unknown as Record<KbKind, unknown[]>)[kind] = out
    parts.push(kind, JSON.stringify(out))
  }
  return new KnowledgeBase(parsed, versionOf(parts))
}

// ---------------------------------------------------------------- ClickHouse

export function kbTableName(kind: KbKind): string {
  return `kb_${kind}`
}

function chType(c: Column): string {
  const base = c.kind === 'string' ? 'String' : c.kind === 'number' ? 'Float64' : c.kind === 'boolean' ? 'Bool' : 'Array(String)'
  return c.optional && c.kind !== 'array' ? `Nullable(${base})` : base
}

/** DDL of one KB table: columns named as the row fields, arrays as Array(String). */
export function kbTableDdl(store: Store, kind: KbKind): string {
  const cols = kbColumns(kind).map((c) => `\`${c.name}\` ${chType(c)}`).join(', ')
  return `CREATE TABLE IF NOT EXISTS ${store.t(kbTableName(kind))} (${cols}) ENGINE = ReplacingMergeTree ORDER BY (${TABLE_KEYS[kind].join(', ')})`
}

export async function saveKnowledgeBaseToStore(store: Store, data: Partial<KbData>): Promise<void> {
  for (const kind of KB_TABLES) {
    await store.command(kbTableDdl(store, kind))
    const rows = (data[kind] ?? []) as readonly object[]
    // Validated before insert: the store must hold only rows the file loader would accept.
    const parsed = rows.map((r, i) => parseRow(kind, r as Record<string, unknown>, kbTableName(kind), i + 1))
    for (let i = 0; i < parsed.length; i += 50_000) await store.insert(kbTableName(kind), parsed.slice(i, i + 50_000) as object[])
  }
}

export async function loadKnowledgeBaseFromStore(store: Store): Promise<KnowledgeBase> {
  const data = emptyKbData()
  const parts: string[] = []
  const existing = new Set(
    (await store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = {db:String}', { db: store.db })).map((r) => r.name),
  )
  for (const kind of KB_TABLES) {
    const table = kbTableName(kind)
    if (!existing.has(table)) continue
    const cols = kbColumns(kind)
    // FINAL: ReplacingMergeTree collapses re-saved rows only on merge; readers must not see both versions.
    const rows = await store.query<Record<string, unknown>>(
      `SELECT ${cols.map((c) => `\`${c.name}\``).join(', ')} FROM ${store.t(table)} FINAL ORDER BY ${TABLE_KEYS[kind].join(', ')}`,
    )
    const out = rows.map((r, i) => {
      for (const k of Object.keys(r)) if (r[k] === null) delete r[k]
      return parseRow(kind, r, table, i + 1)
    })
    ;(data as unknown as Record<KbKind, unknown[]>)[kind] = out
    parts.push(kind, JSON.stringify(out))
  }
  return new KnowledgeBase(data, versionOf(parts))
}
