import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
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

  it('reaches ClickHouse only through Store: no code outside src/store/store.ts calls its client (embedded chDB keeps a statement’s settings for the session, so settings must go through Store)', () => {
    const files = (readdirSync('src', { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join('src', f))
    const slips = files.filter((f) => f !== join('src', 'store', 'store.ts') && /\.client\.(insert|query|command|exec)\(/.test(readFileSync(f, 'utf8')))
    expect(files.length).toBeGreaterThan(50)
    expect(slips).toEqual([])
  })
})
