import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inlineParams, literal } from '../../src/store/literals.ts'
import { Store } from '../../src/store/store.ts'
import { removeDir } from '../helpers/app.ts'

/**
 * The embedded store binds query parameters in the SQL text, as a ClickHouse
 * server binds them (src/store/literals.ts): whatever a value holds, it reads
 * back as itself and never becomes SQL.
 */
const dir = mkdtempSync(join(tmpdir(), 'fw-literals-'))
const database = `lit_${process.pid}`
let store: Store

const hostile = [
  `it's`, `\\`, `\\'`, `'\\`, `\\\\'); DROP TABLE ${database}.t; --`, `'; DROP TABLE ${database}.t; --`, `' OR 1 = 1 --`,
  'tab\there\nnewline\r\n', 'nul\0byte', '\\0 \\x41 \\n not escapes', '{s:String}', '{x:UInt8}', '/* not a comment */', '-- nor this',
  '张三 370702199001011234 ¥12.30 😀', '\u2028\u2029', `"double" and \`back\``, '', ' ',
]

beforeAll(async () => {
  store = await Store.open({ dataDir: join(dir, 'chdb'), database })
  await store.command(`CREATE TABLE ${database}.t (id UInt32, s String) ENGINE = MergeTree ORDER BY id`)
  await store.command(`INSERT INTO ${database}.t VALUES (1, 'kept')`)
})
afterAll(async () => {
  await store?.close()
  removeDir(dir)
})

describe('parameters bound in the SQL text', () => {
  it('read back exactly as given, alone and in arrays, and never run as SQL', async () => {
    for (const s of hostile) {
      const [r] = await store.query<{ v: string; a: string[]; n: string; hit: string }>(
        `SELECT {s:String} AS v, {a:Array(String)} AS a, toString(length({s:String})) AS n, toString(countIf(t.s = {s:String})) AS hit FROM ${database}.t AS t`, { s, a: [s, 'x', s] })
      expect(r, JSON.stringify(s)).toEqual({ v: s, a: [s, 'x', s], n: String(Buffer.byteLength(s)), hit: '0' })
    }
    expect(await store.query(`SELECT id, s FROM ${database}.t`)).toEqual([{ id: 1, s: 'kept' }])
  })

  it('match a row by a hostile value, and give numbers, times and empty lists their types', async () => {
    await store.command(`INSERT INTO ${database}.t SELECT 2, {s:String}`, { s: hostile[4] })
    expect(await store.query(`SELECT id FROM ${database}.t WHERE s IN {a:Array(String)} AND id >= {min:UInt32}`, { a: [hostile[4], 'none'], min: 2 })).toEqual([{ id: 2 }])
    expect(await store.query(`SELECT id FROM ${database}.t WHERE s IN {a:Array(String)}`, { a: [] })).toEqual([])
    const [t] = await store.query<{ t: string; d: string }>(`SELECT toString({t:DateTime64(3, 'UTC')} - INTERVAL 1 DAY) AS t, toTypeName({t:DateTime64(3, 'UTC')}) AS d`, { t: '2026-03-02 09:15:00.123' })
    expect(t).toEqual({ t: '2026-03-01 09:15:00.123', d: "DateTime64(3, 'UTC')" })
    // A value the text binding does not take goes to chDB's own binding, with the same answer.
    expect(await store.query(`SELECT {m:Map(String, UInt8)} AS m`, { m: { a: 1 } })).toEqual([{ m: { a: 1 } }])
  })

  it('take values longer than the parser reads of a statement by default (an admission lookup sends up to 512 KiB)', async () => {
    const ids = Array.from({ length: 40_000 }, (_, i) => `${hostile[4]}-${i}`)
    expect(Buffer.byteLength(JSON.stringify(ids))).toBeGreaterThan(2 * 262_144)
    expect(await store.query(`SELECT id FROM ${database}.t WHERE s IN {a:Array(String)} OR s = {last:String}`, { a: [...ids, hostile[4]], last: ids[0] })).toEqual([{ id: 2 }])
    // And the statements after it run as before.
    expect(await store.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${database}.t WHERE s = {s:String}`, { s: hostile[4] })).toEqual([{ n: '1' }])
  })

  it('give numbers the values the engine\'s own binding gives them', async () => {
    const values: [string, unknown][] = [
      ['Decimal(38,2)', 0.1 + 0.2], ['Decimal(38,2)', '12.30'], ['Decimal(38,2)', -7], ['Int64', -5], ['Int64', 2n ** 62n], ['UInt32', 4_000_000_000],
      ['Float64', 0.1 + 0.2], ['Float64', 123456789.125], ['Float64', -0], ['String', 5], ['Bool', true], ['Bool', false], ['Array(Int64)', [1, -2, 3]], ['Array(Float64)', [0.5, 1e-7]],
    ]
    for (const [type, v] of values) {
      const inlined = await store.query(`SELECT toString({v:${type}}) AS v`, { v }).catch((e: Error) => e.message.split('\n')[0])
      // With a value the text binding does not take beside it, the whole query goes to chDB's own binding.
      const engine = await store.query(`SELECT toString({v:${type}}) AS v, {m:Map(String, UInt8)} AS m`, { v, m: {} }).then((r) => r.map((x) => ({ v: (x as { v: string }).v })), (e: Error) => e.message.split('\n')[0])
      expect(typeof inlined === 'string' ? 'refused' : inlined, `${type} ${String(v)}`).toEqual(typeof engine === 'string' ? 'refused' : engine)
    }
  })

  it('leave placeholders in quotes and comments alone, and give up on what they cannot bind', () => {
    const sql = `SELECT '{s:String}', "{s:String}", \`{s:String}\`, 'it''s {s:String}', 'a\\'{s:String}' -- {s:String}\n/* {s:String} */ {s:String}`
    expect(inlineParams(sql, { s: 'v' })).toBe(`SELECT '{s:String}', "{s:String}", \`{s:String}\`, 'it''s {s:String}', 'a\\'{s:String}' -- {s:String}\n/* {s:String} */ _CAST('v', 'String')`)
    expect(inlineParams(`SELECT {a:Array(String)}, {t:DateTime64(3,'UTC')}, {n:Int64}`, { a: ["o'k"], t: '2026-01-01', n: -5 }))
      .toBe(`SELECT _CAST(['o\\'k'], 'Array(String)'), _CAST('2026-01-01', 'DateTime64(3,\\'UTC\\')'), _CAST('-5', 'Int64')`)
    expect(inlineParams('SELECT * FROM {t:Identifier}', { t: 'x' })).toBeUndefined()
    expect(inlineParams('SELECT {a:Array(Array(String))}', { a: [['x']] })).toBeUndefined()
    expect(inlineParams('SELECT {missing:String}', {})).toBeUndefined()
    expect(inlineParams('SELECT {d:Date}', { d: new Date(0) })).toBeUndefined()
    expect(inlineParams('SELECT {n:Float64}', { n: Number.NaN })).toBeUndefined()
    expect(inlineParams('SELECT {a:Array(String)}', { a: ['x', { y: 1 }] })).toBeUndefined()
    expect(inlineParams('SELECT {1}, {', {})).toBe('SELECT {1}, {')
    expect(literal('a\0b')).toBe("'a\\0b'")
  })
})
