import { describe, expect, it } from 'vitest'
import { circles, importGraph } from '../helpers/imports.ts'

describe('import structure', () => {
  const graph = importGraph(['src', 'schemas'])

  it('sees the imports it walks (the walker itself works)', () => {
    expect(graph.get('src/cli/main.ts')).toContain('src/cli/commands.ts')
    expect(circles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']])
  })

  it('has no import circle under src/ and schemas/', () => {
    expect(circles(graph)).toEqual([])
  })

  it('keeps storage ignorant of who is asking: src/store imports nothing from auth, api or cli', () => {
    const slips = [...graph].filter(([f]) => f.startsWith('src/store/')).flatMap(([f, deps]) => deps.filter((d) => /^src\/(auth|api|cli)\//.test(d)).map((d) => `${f} → ${d}`))
    expect(slips).toEqual([])
  })
})
