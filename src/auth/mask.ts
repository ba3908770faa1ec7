import { z } from 'zod'

/**
 * Personal identifiers (身份证号, names, birthdays) leave the API masked unless
 * the handler wraps a value in `Revealed` — which it does only for an inspector
 * who stated a purpose. The masking lives in the response schemas (zod codecs
 * run by the serializer), so a handler that forgets to mask still cannot leak:
 * a plain string in a sensitive field is always masked on the way out.
 */
export class Revealed {
  constructor(readonly value: string) {}
}

/** 110105199001010012 → 110105********0012 (region and the last four stay for matching on the phone). */
export function maskCertno(s: string): string {
  if (!s) return ''
  // Too short to keep a region and four digits and still hide anything (a card or voucher number): starred whole.
  if (s.length <= 10) return '*'.repeat(s.length)
  return s.slice(0, 6) + '*'.repeat(s.length - 10) + s.slice(-4)
}

/** 张三丰 → 张**; a one-character name is starred whole. */
export function maskName(s: string): string {
  const chars = [...s]
  if (chars.length === 0) return ''
  if (chars.length === 1) return '*'
  return chars[0] + '*'.repeat(chars.length - 1)
}

/** 1990-05-01 → 1990 (age bands still work; the day does not identify anyone). */
export function maskBirthday(s: string): string {
  return s ? s.slice(0, 4) : ''
}

/**
 * The keys that hold personal data, wherever they sit in a record: the
 * contract's (certno, psn_name, brdy) and the national interface's other names
 * for a person's name and certificate — 3101/3102's patn_name, 2401/2403's
 * contact coner_name, and the 就诊凭证编号 mdtrt_cert_no, which is the ID
 * number itself when the certificate is an ID card (mdtrt_cert_type 02).
 */
const MASKERS: Record<string, (s: string) => string> = {
  certno: maskCertno, psn_name: maskName, brdy: maskBirthday, patn_name: maskName, coner_name: maskName, mdtrt_cert_no: maskCertno,
}

function sensitive(mask: (s: string) => string, describe: string) {
  return z.codec(z.string(), z.union([z.string(), z.instanceof(Revealed)]), {
    decode: (s) => s,
    encode: (v) => (v instanceof Revealed ? v.value : mask(v)),
  }).describe(describe)
}

export const MaskedCertno = sensitive(maskCertno, '身份证号, masked (110105********002X) unless inspector + purpose')
export const MaskedName = sensitive(maskName, 'Name, masked (张*) unless inspector + purpose')
export const MaskedBirthday = sensitive(maskBirthday, 'Birthday, year only unless inspector + purpose')

/** Masks sensitive keys anywhere in a free-form value (detector evidence may quote a birthday). */
export function maskDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(maskDeep)
  if (v instanceof Revealed) return v
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) {
      const m = MASKERS[k]
      out[k] = m && typeof x === 'string' ? m(x) : maskDeep(x)
    }
    return out
  }
  return v
}

/** Marks every sensitive key in a free-form value as revealed (inspector with a purpose). */
export function revealDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(revealDeep)
  if (v && typeof v === 'object' && !(v instanceof Revealed)) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) out[k] = MASKERS[k] && typeof x === 'string' ? new Revealed(x) : revealDeep(x)
    return out
  }
  return v
}

function unwrap(v: unknown): unknown {
  if (v instanceof Revealed) return v.value
  if (Array.isArray(v)) return v.map(unwrap)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]))
  return v
}

/** A free-form record (alert evidence) whose sensitive keys are masked unless revealed. */
export const MaskedRecord = z.codec(z.record(z.string(), z.unknown()), z.record(z.string(), z.unknown()), {
  decode: (r) => r,
  encode: (r) => unwrap(maskDeep(r)) as Record<string, unknown>,
}).describe('Free-form facts; personal keys (certno, psn_name, brdy) masked unless inspector + purpose')

/** What a handler passes for a sensitive field: the raw value only when revealing is allowed. */
export function personal(value: string, reveal: boolean): string | Revealed {
  return reveal ? new Revealed(value) : value
}

/**
 * An 18-digit 身份证号 anywhere in a text (a name field that holds one, a
 * parser's error message quoting the input). Every 18-digit run is masked,
 * checksum or not: a mistyped ID number is still someone's.
 */
const ID18 = /(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])/g
/** `"certno": "…"` (and every other key of MASKERS) in text that is not JSON: the value up to its closing quote, or to the end when the record was cut off. */
const KEYED = new RegExp(`("(${Object.keys(MASKERS).join('|')})"\\s*:\\s*")((?:[^"\\\\]|\\\\.)*)`, 'g')

/** The text-level fallback: sensitive keys' values and every 18-digit ID number masked. */
export function maskText(text: string): string {
  return text
    .replace(KEYED, (_m, head: string, key: string, value: string) => head + MASKERS[key]!(value))
    .replace(ID18, (id) => maskCertno(id))
}

function maskJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(maskJson)
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) {
      const m = MASKERS[k]
      // A sensitive key holding something other than a string (a number, an array of names) is withheld whole.
      out[k] = !m ? maskJson(x) : typeof x === 'string' ? m(x) : x === null ? null : '***'
    }
    return out
  }
  return v
}

/**
 * A record as it arrived — possibly not JSON, possibly cut off — for someone
 * who may not see personal data: where it parses, the JSON with its sensitive
 * keys masked at any depth (re-serialised, so whitespace is not kept); where
 * it does not, the text with `maskText`. ID numbers are masked in both, so
 * one under an unexpected key does not slip through.
 */
export function maskRawRecord(text: string): string {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return maskText(text)
  }
  return maskText(JSON.stringify(maskJson(json)))
}
