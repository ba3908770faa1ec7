import { describe, expect, it } from 'vitest'
import { buildRegistry } from '../../src/detect/registry.ts'
import type { Detector } from '../../src/detect/types.ts'

describe('detector registry', () => {
  const all = buildRegistry()
  it('holds every detector once, each named after a pattern of its own kind', () => {
    expect(new Set(all.map((d) => d.id)).size).toBe(all.length)
    expect(all.length).toBe(23)
  })
  it('refuses a duplicate id, an id that is no pattern, and a kind that is not the pattern’s', () => {
    const d = all[0]!
    expect(() => buildRegistry([d, d])).toThrow(/share the id/)
    expect(() => buildRegistry([{ ...d, id: 'made-up-rule' } as Detector])).toThrow(/names no pattern/)
    expect(() => buildRegistry([{ ...d, kind: d.kind === 'stream' ? 'audit' : 'stream' } as Detector])).toThrow(/but its pattern is/)
  })
})
