import { describe, expect, it } from 'vitest'
import { jsonNestsDeeperThan } from '../../src/util/json-depth.ts'

const nested = (n: number, open = '[', close = ']') => open.repeat(n) + close.repeat(n)

describe('jsonNestsDeeperThan', () => {
  it('counts arrays and objects, mixed', () => {
    expect(jsonNestsDeeperThan('1', 0)).toBe(false)
    expect(jsonNestsDeeperThan('[]', 0)).toBe(true)
    expect(jsonNestsDeeperThan('[]', 1)).toBe(false)
    expect(jsonNestsDeeperThan('{"a":[{"b":1}]}', 3)).toBe(false)
    expect(jsonNestsDeeperThan('{"a":[{"b":1}]}', 2)).toBe(true)
    expect(jsonNestsDeeperThan(nested(32), 32)).toBe(false)
    expect(jsonNestsDeeperThan(nested(33), 32)).toBe(true)
  })

  it('measures depth, not the number of brackets: siblings do not add up', () => {
    expect(jsonNestsDeeperThan(`[${Array(1000).fill('[1]').join(',')}]`, 2)).toBe(false)
  })

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonNestsDeeperThan(`["${'['.repeat(100)}"]`, 1)).toBe(false)
    expect(jsonNestsDeeperThan(`["\\"${'{'.repeat(100)}\\\\", ${nested(2)}]`, 3)).toBe(false)
    expect(jsonNestsDeeperThan(`["\\\\", ${nested(3)}]`, 3)).toBe(true)
  })

  it('reads UTF-8 bytes the same as text', () => {
    const text = `{"名":"[[[潍坊]]]","x":${nested(5, '{"k":', '}').replace(/\}+$/, (m) => '1' + m)}}`
    expect(JSON.parse(text)).toBeTypeOf('object')
    for (const limit of [5, 6, 7]) expect(jsonNestsDeeperThan(new TextEncoder().encode(text), limit)).toBe(jsonNestsDeeperThan(text, limit))
    expect(jsonNestsDeeperThan(text, 6)).toBe(false)
    expect(jsonNestsDeeperThan(text, 5)).toBe(true)
  })

  it('answers a text far deeper than any stack, without recursion', () => {
    expect(jsonNestsDeeperThan(nested(1_000_000), 64)).toBe(true)
    expect(jsonNestsDeeperThan(nested(1_000_000), 2_000_000)).toBe(false)
  })
})
