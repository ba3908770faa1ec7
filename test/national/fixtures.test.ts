import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SPEC } from '../../src/national/spec.ts'
import { FIXTURES, SHARED_SAMPLES } from './helpers.ts'

/**
 * The project keeps its own copy of the national samples and field tables so
 * nothing depends on ../shared at run time; these tests fail when a copy and
 * the shared originals drift apart.
 */
describe('copies of ../shared/national', () => {
  const shared = readdirSync(SHARED_SAMPLES).sort()

  it('test/fixtures/national/samples holds every shared sample, byte for byte, and nothing else', () => {
    expect(readdirSync(join(FIXTURES, 'samples')).sort()).toEqual(shared)
    for (const f of shared) expect(readFileSync(join(FIXTURES, 'samples', f), 'utf8'), f).toBe(readFileSync(join(SHARED_SAMPLES, f), 'utf8'))
  })

  it('src/national/spec.ts is fields.json: every node, field, type and requiredness', () => {
    type Field = { name: string; type: string; req_hn: string; req_jx: string }
    const fields = JSON.parse(readFileSync(join(SHARED_SAMPLES, '..', 'fields.json'), 'utf8')) as Record<string, { node: string; direction: string; fields: Field[] }[]>
    const projected = Object.fromEntries(Object.entries(fields).map(([infno, nodes]) => [infno, nodes.map((n) => ({
      node: n.node, direction: n.direction, fields: n.fields.map((f) => [f.name, f.type, f.req_hn, f.req_jx]),
    }))]))
    expect(SPEC).toEqual(projected)
  })
})
