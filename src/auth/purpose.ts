/**
 * A stated purpose (why personal data is unmasked, written to the access log),
 * as it is judged and recorded: control and invisible format characters
 * removed — two zero-width spaces state nothing — and runs of white space
 * folded into one space.
 */
export function cleanPurpose(raw: string): string {
  return raw.replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cn}]/gu, '').replace(/[\p{Z}\s]+/gu, ' ').trim()
}

/** A purpose says something: at least this many letters or digits once cleaned. */
export const PURPOSE_MIN_CHARS = 2
export const PURPOSE_MAX_LENGTH = 200

/** The purpose, cleaned, or '' when it does not state one. */
export function statedPurpose(raw: string): string {
  const s = cleanPurpose(raw).slice(0, PURPOSE_MAX_LENGTH)
  return (s.match(/[\p{L}\p{N}]/gu)?.length ?? 0) >= PURPOSE_MIN_CHARS ? s : ''
}
