/**
 * Whether a JSON text nests arrays and objects deeper than `limit`, found by
 * one pass over the text — no parse, no recursion — so it can guard a parser
 * (or anything that walks the parsed value recursively, a schema validator, a
 * serializer) against a stack overflow. Brackets inside strings do not count.
 *
 * Works on UTF-8 bytes as well as on a string: the bytes it looks at (`"`,
 * `\`, brackets) never occur inside a multi-byte UTF-8 sequence. Malformed
 * JSON is not its business: it answers for the nesting it sees and leaves
 * the verdict on the syntax to the parser.
 */
export function jsonNestsDeeperThan(text: string | Uint8Array, limit: number): boolean {
  const at = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i]!
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = at(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) inString = true
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--
  }
  return false
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
