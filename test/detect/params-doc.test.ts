import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { detectors } from '../../detectors/index.ts'

// Issue 15: the Chinese console showed parameter descriptions in English only.
// A detector's parameter schema is its documentation (the README table, the
// console's 规则目录): every parameter carries its description in both
// languages — `.describe(en)` and `.meta({ description_zh })` — and the JSON
// Schema the API serves keeps both.
const CJK = /[\u4e00-\u9fff]/

describe('detector parameter descriptions', () => {
  it('every parameter of every detector is described in English and in Chinese', () => {
    const missing: string[] = []
    for (const d of detectors) {
      const json = z.toJSONSchema(d.params, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, { description?: string; description_zh?: string }> }
      for (const [name, p] of Object.entries(json.properties ?? {})) {
        if (!p.description?.trim()) missing.push(`${d.id}.${name}: en`)
        if (!p.description_zh || !CJK.test(p.description_zh)) missing.push(`${d.id}.${name}: zh`)
      }
    }
    expect(missing).toEqual([])
  })
})
