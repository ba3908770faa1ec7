import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { kbColumns, kbFromRows, kbTableName, loadKnowledgeBaseFromStore, saveKnowledgeBaseToStore } from '../../src/kb/loader.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import { Store } from '../../src/store/store.ts'

// Real chDB, in a data directory and database of this file's own.
let store: Store
let dataDir: string
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'fundwatch-kb-store-'))
  store = await Store.open({ database: `kb_test_${Math.random().toString(36).slice(2, 10)}`, dataDir })
})
afterAll(async () => {
  await store?.close()
  await rm(dataDir, { recursive: true, force: true })
})

describe('knowledge base in ClickHouse', () => {
  it('is empty when no table exists yet', async () => {
    const kb = await loadKnowledgeBaseFromStore(store)
    expect(kb.catalog.size).toBe(0)
    expect(kb.institutions.size).toBe(0)
  })

  it('round-trips the sample knowledge base, arrays as Array(String) and absent values as NULL', async () => {
    const data = sampleKnowledgeBase(2)
    await saveKnowledgeBaseToStore(store, data)
    const kb = await loadKnowledgeBaseFromStore(store)
    const expected = kbFromRows(data)
    // Rows come back in key order; compare as sets keyed like the KnowledgeBase does.
    expect([...kb.catalog.values()].sort(byKey('med_list_codg'))).toEqual([...expected.catalog.values()].sort(byKey('med_list_codg')))
    expect([...kb.institutions.values()].sort(byKey('fixmedins_code'))).toEqual([...expected.institutions.values()].sort(byKey('fixmedins_code')))
    expect([...kb.doctors.values()].sort(byKey('dr_code'))).toEqual([...expected.doctors.values()].sort(byKey('dr_code')))
    expect([...kb.persons.values()].sort(byKey('psn_no'))).toEqual([...expected.persons.values()].sort(byKey('psn_no')))
    expect([...kb.groups.values()].sort(byKey('code'))).toEqual([...expected.groups.values()].sort(byKey('code')))
    expect([...kb.diagnoses.values()].sort(byKey('diag_code'))).toEqual([...expected.diagnoses.values()].sort(byKey('diag_code')))
    const cols = await store.query<{ name: string; type: string }>(
      'SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}', { db: store.db, t: kbTableName('catalog') })
    const types = new Map(cols.map((c) => [c.name, c.type]))
    expect(cols.map((c) => c.name)).toEqual(kbColumns('catalog').map((c) => c.name))
    expect(types.get('indications')).toBe('Array(String)')
    expect(types.get('price_cap_lv1')).toBe('Nullable(String)')
    expect(types.get('high_value')).toBe('Bool')
  })

  it('saving again replaces rows by key instead of duplicating them, and the version follows the content', async () => {
    const data = sampleKnowledgeBase(2)
    const before = await loadKnowledgeBaseFromStore(store)
    const item = data.catalog[0]!
    await saveKnowledgeBaseToStore(store, { catalog: [{ ...item, price_cap_lv3: '1.23', price_cap_lv2: '1.23', price_cap_lv1: '1.23' }] })
    const after = await loadKnowledgeBaseFromStore(store)
    expect(after.catalog.size).toBe(data.catalog.length)
    expect(after.catalog.get(item.med_list_codg)!.price_cap_lv3).toBe('1.23')
    expect(after.version).not.toBe(before.version)
    const again = await loadKnowledgeBaseFromStore(store)
    expect(again.version).toBe(after.version)
  })

  it('refuses rows the file loader would refuse', async () => {
    await expect(saveKnowledgeBaseToStore(store, { institutions: [{ ...sampleKnowledgeBase().institutions[0]!, fixmedins_code: 'H1' }] }))
      .rejects.toThrow(/kb_institutions line 1 field fixmedins_code/)
  })
})

function byKey<K extends string>(k: K) {
  return (a: Record<K, unknown>, b: Record<K, unknown>): number => String(a[k]).localeCompare(String(b[k]))
}
