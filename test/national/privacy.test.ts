import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { maskRawRecord } from '../../src/auth/mask.ts'
import { FIXTURES } from './helpers.ts'

/**
 * A national transaction names its person under the interface's own keys too:
 * 3101/3102's patn_name, 2401/2403's contact coner_name, and the 就诊凭证编号
 * mdtrt_cert_no (the ID number itself when mdtrt_cert_type is 02, a card or
 * e-voucher number otherwise). A refused transaction shown to anyone without the
 * inspector role (the dead-letter pages, docs/api.md) has them masked like
 * certno, psn_name and brdy.
 */
const sample = (infno: string) => readFileSync(join(FIXTURES, 'samples', `${infno}.json`), 'utf8')

describe('a national record as someone without the inspector role sees it', () => {
  it('masks every name, certificate number and birthday under the national keys, and stays JSON', () => {
    for (const infno of ['2201', '2304', '2401', '3101']) {
      const text = sample(infno)
      const personal = [...text.matchAll(/"(psn_name|patn_name|coner_name|certno|mdtrt_cert_no|brdy)":\s*"([^"]+)"/g)].map((m) => m[2]!).filter((v) => v.length > 1)
      expect(personal.length, `${infno}: the sample names a person`).toBeGreaterThan(0)
      const masked = maskRawRecord(text)
      expect(() => JSON.parse(masked) as unknown).not.toThrow()
      expect(personal.filter((v) => masked.includes(`"${v}"`)), infno).toEqual([])
    }
  })
})
