import { createHash } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SPEC } from '../../src/national/spec.ts'
import { FIXTURES, SHARED_NATIONAL } from './helpers.ts'

/**
 * The project keeps its own copy of the national samples and field tables
 * (test/fixtures/national), so nothing depends on ../shared at run time. The
 * copy is pinned by SHA256SUMS, taken from ../shared/national when it was
 * copied; on a machine that has ../shared beside the checkout, the sums are
 * also checked against it, so the copy and the shared originals cannot drift
 * apart unnoticed.
 */
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
const SUMS = readFileSync(join(FIXTURES, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => {
  const [hash, name] = l.split(/\s+/)
  return { hash: hash!, name: name! }
})

describe('the project\'s copy of ../shared/national', () => {
  it('holds every sample and fields.json, byte for byte as SHA256SUMS pins them, and nothing else', () => {
    expect(SUMS.map((s) => s.name).filter((n) => n.startsWith('samples/')).sort()).toEqual(readdirSync(join(FIXTURES, 'samples')).map((f) => `samples/${f}`).sort())
    expect(SUMS.some((s) => s.name === 'fields.json')).toBe(true)
    for (const s of SUMS) expect(sha(join(FIXTURES, s.name)), s.name).toBe(s.hash)
  })

  it('is the shared folder\'s, where this machine has it beside the checkout', () => {
    const where = SHARED_NATIONAL ?? '(no ../shared/national here: the pinned sums stand for it)'
    const shared = SHARED_NATIONAL ? ['fields.json', ...readdirSync(join(SHARED_NATIONAL, 'samples')).map((f) => `samples/${f}`)].sort() : SUMS.map((s) => s.name).sort()
    expect(SUMS.map((s) => s.name).sort(), where).toEqual(shared)
    if (SHARED_NATIONAL) for (const s of SUMS) expect(sha(join(SHARED_NATIONAL, s.name)), `${where}/${s.name}`).toBe(s.hash)
  })

  it('src/national/spec.ts is fields.json: every node, field, type and requiredness', () => {
    type Field = { name: string; type: string; req_hn: string; req_jx: string }
    const fields = JSON.parse(readFileSync(join(FIXTURES, 'fields.json'), 'utf8')) as Record<string, { node: string; direction: string; fields: Field[] }[]>
    const projected = Object.fromEntries(Object.entries(fields).map(([infno, nodes]) => [infno, nodes.map((n) => ({
      node: n.node, direction: n.direction, fields: n.fields.map((f) => [f.name, f.type, f.req_hn, f.req_jx]),
    }))]))
    expect(SPEC).toEqual(projected)
  })
})
