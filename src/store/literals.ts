/**
 * Query parameters bound in the SQL text, as ClickHouse itself binds them: a
 * server replaces `{name:Type}` with `_CAST(<the value as a literal>, 'Type')`
 * before it analyses the query (ReplaceQueryParameterVisitor); this does the
 * same before the query is sent. chdb-pool.ts uses it for the embedded engine,
 * whose own binding runs one parameterised query at a time in the whole
 * process (chdb 3.4: its parameter state is not isolated between
 * connections), so that the reads of one pre-check run side by side.
 *
 * Values become SQL only through `literal`: a string is quoted with every
 * backslash and quote escaped (and NUL written as an escape), a number must be
 * finite, an array is a flat list of such values; anything else — an object,
 * a Date, a non-finite number, nested arrays, an Identifier parameter — is not
 * inlined, and the caller binds the query the engine's way.
 * test/store/literals.test.ts checks hostile strings store and read back
 * exactly as the engine's own binding gives them.
 */

/** A string as a ClickHouse string literal: backslash and quote escaped, NUL as `\0`. */
function quoted(s: string): string {
  return `'${s.replace(/[\\'\0]/g, (c) => (c === '\0' ? '\\0' : `\\${c}`))}'`
}

/**
 * A value as a ClickHouse literal, or undefined when it is not one this
 * inlines. A number outside an array is written as text (`'5'`), so the cast
 * parses it from text as the server parses a parameter's value (a Decimal
 * from its digits, never through a binary float).
 */
export function literal(v: unknown, inArray = false): string | undefined {
  if (typeof v === 'string') return quoted(v)
  if (typeof v === 'number') return Number.isFinite(v) ? (inArray ? String(v) : quoted(String(v))) : undefined
  if (typeof v === 'bigint') return inArray ? String(v) : quoted(String(v))
  if (typeof v === 'boolean') return inArray ? String(v) : quoted(v ? '1' : '0')
  if (Array.isArray(v)) {
    const items: string[] = []
    for (const x of v) {
      if (Array.isArray(x)) return undefined
      const l = literal(x, true)
      if (l === undefined) return undefined
      items.push(l)
    }
    return `[${items.join(', ')}]`
  }
  return undefined
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y

/**
 * `sql` with each `{name:Type}` outside quotes and comments replaced by
 * `_CAST(literal, 'Type')`; undefined when a placeholder names no parameter
 * or a value is not one `literal` takes (the caller then binds the engine's way).
 */
export function inlineParams(sql: string, params: Readonly<Record<string, unknown>>): string | undefined {
  let out = ''
  let from = 0
  let i = 0
  while (i < sql.length) {
    const c = sql[i]!
    if (c === "'" || c === '"' || c === '`') {
      // A quoted string or identifier: backslash escapes, a doubled quote is one quote.
      i++
      while (i < sql.length) {
        if (sql[i] === '\\') i += 2
        else if (sql[i] === c) {
          if (sql[i + 1] === c) i += 2
          else break
        } else i++
      }
      i++
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i)
      i = end === -1 ? sql.length : end + 1
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2)
      i = end === -1 ? sql.length : end + 2
    } else if (c === '{') {
      NAME.lastIndex = i + 1
      const name = NAME.exec(sql)?.[0]
      const colon = i + 1 + (name?.length ?? 0)
      const close = sql.indexOf('}', colon)
      if (name === undefined || sql[colon] !== ':' || close === -1) {
        i++
        continue
      }
      const type = sql.slice(colon + 1, close).trim()
      if (!Object.hasOwn(params, name)) return undefined
      const value = literal(params[name])
      // An identifier parameter names a table or column: not a value, left to the engine's binding.
      if (value === undefined || type === '' || type === 'Identifier') return undefined
      out += `${sql.slice(from, i)}_CAST(${value}, ${quoted(type)})`
      i = from = close + 1
    } else i++
  }
  return out + sql.slice(from)
}
