import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FundwatchError } from '../../src/errors.ts'
import { tsv } from '../../src/store/rows.ts'
import { Store } from '../../src/store/store.ts'
import { removeDir } from '../helpers/app.ts'

/**
 * Embedded inserts reach chDB as a file (INSERT … SELECT FROM file()): the
 * rows stored are exactly the rows given, the statement's settings hold for
 * that insert only, and the file is gone afterwards whether the insert
 * succeeded or was refused.
 */
const dir = mkdtempSync(join(tmpdir(), 'fw-insert-'))
const database = `ins_${process.pid}`
let store: Store
/** Every statement the store sent, with whether each file() it names existed when it was sent. */
const sent: { query: string; files: string[]; existed: boolean[] }[] = []

beforeAll(async () => {
  store = await Store.open({ dataDir: join(dir, 'chdb'), database })
  const command = store.client.command.bind(store.client)
  store.client.command = (params) => {
    const files = [...params.query.matchAll(/file\('([^']+)'/g)].map((m) => m[1]!)
    sent.push({ query: params.query, files, existed: files.map((f) => existsSync(f)) })
    return command(params)
  }
  await store.command(`CREATE TABLE ${database}.t (
    id String, s String, amount Decimal(18, 2), price Decimal(18, 6), at DateTime64(3, 'UTC'), tags Array(String), note String DEFAULT concat('d:', id)
  ) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100`)
})
afterAll(async () => {
  await store?.close()
  removeDir(dir)
})

const tricky = [
  `it's "quoted"`,
  'back\\slash \\n not a newline \\\\ \\',
  'line one\nline two\r\n\ttabbed',
  '张三 身份证 370702199001011234 — ¥12.30 😀',
  `{"looks":"like json"}\n{"another":1}`,
  '\u0001\u001f control',
  '',
]
const rows = tricky.map((s, i) => ({
  id: `r${i}`, s, amount: i % 2 ? '12345678901234.56' : '-0.01', price: '0.128333', at: `2026-03-0${(i % 9) + 1} 09:15:00.${String(i).padStart(3, '0')}`, tags: [s, `'`, '\\'],
}))

function lastInsert(): { query: string; files: string[]; existed: boolean[] } {
  const s = sent.filter((x) => /^INSERT INTO/.test(x.query)).at(-1)
  if (!s) throw new Error('no insert statement was sent')
  return s
}

describe('embedded insert through a file', () => {
  it('stores exactly the rows given (quotes, backslashes, newlines, non-ASCII, Decimal, DateTime64, column defaults) and leaves no file behind', async () => {
    await store.insert('t', rows)
    const ins = lastInsert()
    expect(ins.files).toHaveLength(1)
    expect(ins.existed).toEqual([true])
    expect(ins.files[0]!.startsWith(`${store.spoolDir}/`)).toBe(true)
    expect(existsSync(ins.files[0]!)).toBe(false)
    expect(readdirSync(store.spoolDir!)).toEqual([])

    const back = await store.query<Record<string, unknown>>(`SELECT id, s, amount, price, at, tags, note FROM ${database}.t ORDER BY id`)
    expect(back).toEqual(rows.map((r) => ({ ...r, note: `d:${r.id}` })).sort((a, b) => a.id.localeCompare(b.id)))
  })

  it('a refused insert (a value the column type cannot hold) fails as STORE_INSERT_FAILED, stores nothing and leaves no file behind', async () => {
    const before = await store.query<{ n: string }>(`SELECT count() AS n FROM ${database}.t`)
    const bad = [{ ...rows[0]!, id: 'bad-1' }, { ...rows[1]!, id: 'bad-2', amount: 'twelve yuan' }]
    const err = await store.insert('t', bad).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FundwatchError)
    expect((err as FundwatchError).code).toBe('STORE_INSERT_FAILED')
    expect((err as Error).message).toMatch(/^insert into t failed: /)
    const ins = lastInsert()
    expect(ins.existed).toEqual([true])
    expect(existsSync(ins.files[0]!)).toBe(false)
    expect(readdirSync(store.spoolDir!)).toEqual([])
    expect(await store.query<{ n: string }>(`SELECT count() AS n FROM ${database}.t`)).toEqual(before)
  })

  it('a deduplication token holds for its own insert only: the same block again is dropped, the next insert without a token is stored', async () => {
    await store.command(`TRUNCATE TABLE ${database}.t`)
    const a = [{ ...rows[0]!, id: 'tok-a' }]
    await store.insert('t', a, { insert_deduplication_token: `it's-a` })
    await store.insert('t', a, { insert_deduplication_token: `it's-a` })
    await store.insert('t', [{ ...rows[1]!, id: 'plain-b' }])
    const ids = await store.query<{ id: string }>(`SELECT id FROM ${database}.t ORDER BY id`)
    // Before: the embedded client sent the token as a session-wide SET, so the
    // next insert carried it too and was dropped as a duplicate of tok-a.
    expect(ids.map((r) => r.id)).toEqual(['plain-b', 'tok-a'])
    expect(sent.filter((x) => x.query.includes(`SETTINGS insert_deduplication_token = 'it\\'s-a' SELECT * FROM file(`))).toHaveLength(2)
    expect(readdirSync(store.spoolDir!)).toEqual([])
  })

  it('a spool directory removed under the store is made again; one that cannot be written to sends the rows inline, still stored', async () => {
    await store.command(`TRUNCATE TABLE ${database}.t`)
    const spool = store.spoolDir!
    rmSync(spool, { recursive: true })
    await store.insert('t', [{ ...rows[3]!, id: 'again' }])
    expect(lastInsert().existed).toEqual([true])
    expect(readdirSync(spool)).toEqual([])

    rmSync(spool, { recursive: true })
    writeFileSync(spool, 'not a directory')
    const before = sent.length
    try {
      await store.insert('t', [{ ...rows[4]!, id: 'inline' }])
    } finally {
      rmSync(spool)
      mkdirSync(spool, { mode: 0o700 })
    }
    expect(sent.slice(before).filter((x) => x.files.length)).toEqual([])
    expect(await store.query<{ id: string; s: string }>(`SELECT id, s FROM ${database}.t ORDER BY id`)).toEqual([{ id: 'again', s: rows[3]!.s }, { id: 'inline', s: rows[4]!.s }])
  })

  it('text already in TabSeparated (the ingest lines) is stored exactly, through a file and, when none can be written, inline', async () => {
    await store.command(`CREATE TABLE ${database}.u (id String, s String, at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY id`)
    const body = (prefix: string) => tricky.map((s, i) => `${prefix}${i}\t${tsv(s)}\t2026-03-02 09:15:00.00${i}\n`).join('')
    const want = (prefix: string) => tricky.map((s, i) => ({ id: `${prefix}${i}`, s, at: `2026-03-02 09:15:00.00${i}` }))
    await store.insertText('u', body('f'), 'TabSeparated', `id String, s String, at DateTime64(3, 'UTC')`)
    expect(lastInsert().existed).toEqual([true])
    expect(readdirSync(store.spoolDir!)).toEqual([])
    const spool = store.spoolDir!
    rmSync(spool, { recursive: true })
    writeFileSync(spool, 'not a directory')
    const before = sent.length
    try {
      await store.insertText('u', body('i'), 'TabSeparated', `id String, s String, at DateTime64(3, 'UTC')`)
    } finally {
      rmSync(spool)
      mkdirSync(spool, { mode: 0o700 })
    }
    expect(sent.slice(before).filter((x) => x.files.length)).toEqual([])
    expect(await store.query(`SELECT id, s, toString(at) AS at FROM ${database}.u ORDER BY id`)).toEqual([...want('f'), ...want('i')])
  })

  it('the spool directory goes with the store', async () => {
    const other = await Store.open({ dataDir: join(dir, 'chdb'), database })
    await other.insert('t', [{ ...rows[2]!, id: 'other' }])
    const spool = other.spoolDir!
    expect(existsSync(spool)).toBe(true)
    await other.close()
    expect(existsSync(spool)).toBe(false)
  })
})
