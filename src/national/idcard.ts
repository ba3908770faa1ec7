import { isValidCertno } from '../../schemas/common.ts'

/**
 * Gender and birthday read from an 18-digit resident ID number (居民身份证号,
 * GB 11643): digits 7–14 are the birthday (yyyyMMdd), digit 17 is odd for a
 * man ('1') and even for a woman ('2'). Undefined when the number is not a
 * valid resident ID (check digit) or its birthday is not a real date — the
 * visit is then taken without a person (detectors fall back to the knowledge
 * base's persons), never refused for it.
 */
export function personFromResidentId(certno: string): { gend: '1' | '2'; brdy: string } | undefined {
  if (!isValidCertno(certno)) return undefined
  const y = certno.slice(6, 10)
  const m = certno.slice(10, 12)
  const d = certno.slice(12, 14)
  const brdy = `${y}-${m}-${d}`
  const t = Date.parse(`${brdy}T00:00:00Z`)
  if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== brdy) return undefined
  return { gend: Number(certno[16]) % 2 === 1 ? '1' : '2', brdy }
}
