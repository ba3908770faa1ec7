import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FundwatchError } from '../../src/errors.ts'
import { kbFromRows, loadKnowledgeBase, parseCsv, readKnowledgeBaseDir, writeKnowledgeBase } from '../../src/kb/loader.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fundwatch-kb-loader-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

/** A fresh, empty directory under the test's root. */
async function dir(name: string): Promise<string> {
  const d = join(root, name)
  await rm(d, { recursive: true, force: true })
  await mkdir(d, { recursive: true })
  return d
}

/** The loaded data, for comparing with what kbFromRows makes of the same rows (defaults applied). */
function normalized(data: ReturnType<typeof sampleKnowledgeBase>) {
  return kbFromRows(data).data
}

async function expectKbError(p: Promise<unknown>, ...parts: string[]): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(FundwatchError)
  expect((err as FundwatchError).code).toBe('KB_INVALID')
  for (const part of parts) expect((err as Error).message).toContain(part)
}

describe('knowledge base files', () => {
  it('round-trips the sample knowledge base through JSON lines', async () => {
    const data = sampleKnowledgeBase(3)
    const d = await dir('jsonl')
    await writeKnowledgeBase(d, data, 'jsonl')
    const kb = await loadKnowledgeBase(d)
    expect(kb.data).toEqual(normalized(data))
    expect(kb.catalog.size).toBe(data.catalog.length)
    expect(kb.version).toMatch(/^[0-9a-f]{12}$/)
  })

  it('round-trips the sample knowledge base through CSV, list fields joined with |', async () => {
    const data = sampleKnowledgeBase(3)
    const d = await dir('csv')
    await writeKnowledgeBase(d, data, 'csv')
    const kb = await loadKnowledgeBase(d)
    expect(kb.data).toEqual(normalized(data))
    const csv = await readFile(join(d, 'catalog.csv'), 'utf8')
    const cbc = data.catalog.find((c) => c.includes.length === 4)!
    expect(csv).toContain(cbc.includes.join('|'))
    // A bundle is found from its components after the trip, which needs the lists intact.
    expect(kb.includedBy.get(cbc.includes[0]!)).toEqual([cbc.med_list_codg])
  })

  it('reads CSV cells with quotes, commas and line breaks, and empty cells as absent', async () => {
    const d = await dir('quoted')
    await writeFile(join(d, 'catalog.csv'), [
      'med_list_codg,name,list_type,med_chrgitm_type,chrgitm_lv,price_cap_lv1,indications,high_value,age_max',
      'X001,"阿莫西林, ""胶囊""\n(0.25g)",drug,09,甲,9.80,J01|J02,false,',
      'X002,儿童用药,drug,09,乙,,,true,17',
    ].join('\r\n'))
    const kb = await loadKnowledgeBase(d)
    const a = kb.catalog.get('X001')!
    expect(a.name).toBe('阿莫西林, "胶囊"\n(0.25g)')
    expect(a.indications).toEqual(['J01', 'J02'])
    expect(a.price_cap_lv1).toBe('9.80')
    expect(a.age_max).toBeUndefined()
    const b = kb.catalog.get('X002')!
    expect(b.price_cap_lv1).toBeUndefined()
    expect(b.indications).toEqual([])
    expect(b.high_value).toBe(true)
    expect(b.age_max).toBe(17)
    expect(b.unit).toBe('次')
  })

  it('names file, line and field of a bad CSV row, counting lines inside quoted cells', async () => {
    const d = await dir('bad-csv')
    await writeFile(join(d, 'catalog.csv'), [
      'med_list_codg,name,list_type,med_chrgitm_type,chrgitm_lv,price_cap_lv1',
      'X001,"two\nlines",drug,09,甲,9.80',
      'X002,ok,drug,09,甲,12.345',
    ].join('\n'))
    await expectKbError(loadKnowledgeBase(d), 'catalog.csv line 4', 'field price_cap_lv1')
  })

  it('names file, line and field of a bad JSON-lines row', async () => {
    const d = await dir('bad-jsonl')
    const inst = sampleKnowledgeBase().institutions.slice(0, 3)
    const rows = inst.map((r) => JSON.stringify(r))
    rows[2] = JSON.stringify({ ...inst[2], level: 7 })
    await writeFile(join(d, 'institutions.jsonl'), rows.join('\n') + '\n')
    await expectKbError(loadKnowledgeBase(d), 'institutions.jsonl line 3', 'field level')
    await writeFile(join(d, 'institutions.jsonl'), `${rows[0]}\n\n{"fixmedins_code": \n`)
    await expectKbError(loadKnowledgeBase(d), 'institutions.jsonl line 3', 'not valid JSON')
  })

  it('refuses unknown columns and fields, so a misspelt restriction is not silently dropped', async () => {
    const d = await dir('unknown')
    await writeFile(join(d, 'catalog.csv'), 'med_list_codg,name,list_type,med_chrgitm_type,chrgitm_lv,age_maximum\nX1,a,drug,09,甲,17\n')
    await expectKbError(loadKnowledgeBase(d), 'catalog.csv line 1', 'field age_maximum', 'unknown column')
    await rm(join(d, 'catalog.csv'))
    await writeFile(join(d, 'doctors.jsonl'), JSON.stringify({ dr_code: 'D1', fixmedins_code: 'H37070200001', name: '王伟', title: 'chief', grade: 'A' }) + '\n')
    await expectKbError(loadKnowledgeBase(d), 'doctors.jsonl line 1', 'field grade')
  })

  it('refuses a table given in both formats, and a missing directory', async () => {
    const d = await dir('both')
    await writeKnowledgeBase(d, { ...sampleKnowledgeBase(), catalog: [] }, 'jsonl')
    await writeFile(join(d, 'catalog.csv'), 'med_list_codg,name,list_type,med_chrgitm_type,chrgitm_lv\n')
    await expectKbError(loadKnowledgeBase(d), 'catalog.jsonl and catalog.csv')
    await expectKbError(loadKnowledgeBase(join(root, 'no-such-dir')), 'does not exist')
  })

  it('treats missing files as empty tables', async () => {
    const d = await dir('partial')
    const groups = sampleKnowledgeBase().groups
    await writeFile(join(d, 'groups.jsonl'), groups.map((g) => JSON.stringify(g)).join('\n'))
    const kb = await loadKnowledgeBase(d)
    expect(kb.groups.size).toBe(groups.length)
    expect(kb.catalog.size).toBe(0)
    expect(kb.persons.size).toBe(0)
  })

  it('versions by content: the same files give the same version, a changed cell a new one', async () => {
    const data = sampleKnowledgeBase(5)
    const a = await dir('v1')
    const b = await dir('v2')
    await writeKnowledgeBase(a, data, 'jsonl')
    await writeKnowledgeBase(b, data, 'jsonl')
    const va = (await readKnowledgeBaseDir(a)).version
    expect((await readKnowledgeBaseDir(b)).version).toBe(va)
    const changed = { ...data, catalog: data.catalog.map((c, i) => (i === 0 ? { ...c, price_cap_lv3: '99.99' } : c)) }
    await writeKnowledgeBase(b, changed, 'jsonl')
    expect((await readKnowledgeBaseDir(b)).version).not.toBe(va)
  })

  it('kbFromRows validates in-memory rows and applies defaults', () => {
    const kb = kbFromRows({ catalog: [{ med_list_codg: 'X1', name: '甲', list_type: 'drug', med_chrgitm_type: '09', chrgitm_lv: '甲' } as never] })
    expect(kb.catalog.get('X1')).toMatchObject({ unit: '次', indications: [], includes: [], high_value: false, chronic_only: false })
    expect(() => kbFromRows({ institutions: [{ fixmedins_code: 'bad' } as never] })).toThrow(/institutions line 1 field fixmedins_code/)
  })

  it('parseCsv reports an unterminated quote', () => {
    expect(() => parseCsv('a,b\n"x,y\n', 'f.csv')).toThrow(/f.csv line 2.*unterminated/)
  })
})
