import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPersons, reversalsByPerson } from '../../src/state/cache.ts'
import { MIGRATIONS, POINT_GRANULARITY, migrate, type Migration } from '../../src/store/migrations.ts'
import { DEFAULT_RETENTION } from '../../src/store/retention.ts'
import { Store } from '../../src/store/store.ts'
import { ingestLine, insertIngest } from '../../src/store/rows.ts'
import { chTime } from '../../src/util/time.ts'
import { removeDir } from '../helpers/app.ts'
import { feeUploaded, settlementCompleted, visitClosed, visitOpened } from '../helpers/detect.ts'
import { EVENT_TABLES, addEventRows, emptyEventRows } from '../helpers/legacy-rows.ts'

/**
 * The single-node form of the migrations on real chDB: the migration lock,
 * retention TTLs, and the reversal projections. (The cluster form is checked
 * structurally in cluster.test.ts.) One data directory per file (chDB binds
 * one per process), one database per test.
 */
const dir = mkdtempSync(join(tmpdir(), 'fw-migrations-'))
const stores: Store[] = []
let n = 0
async function freshStore(): Promise<Store> {
  const s = await Store.open({ dataDir: join(dir, 'data'), database: `mg_${process.pid}_${++n}` })
  stores.push(s)
  return s
}
const fast = { lock: { pollMs: 20 } }

beforeAll(async () => { await freshStore() })
afterAll(async () => {
  for (const s of stores) await s.close().catch(() => undefined)
  removeDir(dir)
})

describe('the migration lock', () => {
  it('two migrators at once on one store: one applies everything, the other waits and applies nothing; a non-idempotent statement runs once', async () => {
    const store = await freshStore()
    // A statement that is not idempotent shows a double run in the data.
    const probe: Migration = { version: 900, name: 'probe', statements: [
      `CREATE TABLE IF NOT EXISTS {db}.race_probe (n UInt8) ENGINE = MergeTree ORDER BY n`,
      `INSERT INTO {db}.race_probe SELECT 1`,
    ] }
    const all = [...MIGRATIONS, probe]
    const results = await Promise.all([migrate(store, all, fast), migrate(store, all, fast)])
    const versions = all.map((m) => m.version)
    expect(results.map((r) => r.applied).sort((a, b) => a.length - b.length)).toEqual([[], versions])
    expect(await store.query(`SELECT toString(count()) AS c FROM ${store.t('race_probe')}`)).toEqual([{ c: '1' }])
    expect((await store.query<{ version: number }>(`SELECT version FROM ${store.t('schema_migrations')} ORDER BY version`)).map((r) => Number(r.version))).toEqual(versions)
    // Both took and released the lock in turn: two generations, each released.
    expect(await store.query(`SELECT toString(generation) AS generation, toString(countIf(kind = 'acquire')) AS a, toString(countIf(kind = 'release')) AS r FROM ${store.t('schema_migrations_lock')} GROUP BY generation ORDER BY generation`))
      .toEqual([{ generation: '1', a: '1', r: '1' }, { generation: '2', a: '1', r: '1' }])
  })

  it('a lock held by a live migrator fails a second one cleanly with MIGRATION_LOCKED; released or expired, it is taken', async () => {
    const store = await freshStore()
    await migrate(store, MIGRATIONS, fast) // generation 1, released
    const lock = store.t('schema_migrations_lock')
    await store.command(`INSERT INTO ${lock} SELECT 2, 'acquire', 'other-host:1', now64(3), now64(3) + INTERVAL 1 HOUR`)
    const probe: Migration = { version: 901, name: 'probe', statements: [`CREATE TABLE IF NOT EXISTS {db}.locked_probe (n UInt8) ENGINE = MergeTree ORDER BY n`] }
    await expect(migrate(store, [...MIGRATIONS, probe], { lock: { waitMs: 100, pollMs: 20 } })).rejects.toMatchObject({ code: 'MIGRATION_LOCKED', message: expect.stringContaining('other-host:1') })
    expect(await store.query(`EXISTS TABLE ${store.t('locked_probe')}`)).toEqual([{ result: 0 }])
    // The other migrator crashed: its lease runs out and the lock is taken over.
    await store.command(`INSERT INTO ${lock} SELECT 3, 'acquire', 'crashed-host:1', now64(3) - INTERVAL 2 HOUR, now64(3) - INTERVAL 1 HOUR`)
    await store.command(`INSERT INTO ${lock} SELECT 2, 'release', 'other-host:1', now64(3), now64(3)`)
    expect((await migrate(store, [...MIGRATIONS, probe], fast)).applied).toEqual([901])
  })
})

describe('retention', () => {
  const showCreate = async (store: Store, table: string) => (await store.query<{ statement: string }>(`SHOW CREATE TABLE ${store.t(table)}`))[0]!.statement

  it('sets the configured TTLs on personal columns and raw text; a merge empties them in rows older than that, and keeps the row', async () => {
    const store = await freshStore()
    const r = await migrate(store, MIGRATIONS, { ...fast, retention: { events_raw: 3, visits_personal: 731, dead_letters_raw: 5 } })
    expect(r.retention).toEqual(['events_raw', 'visits_personal', 'dead_letters_raw'])
    expect(await showCreate(store, 'events')).toContain('`raw` String CODEC(ZSTD(3)) TTL toDateTime(event_time) + toIntervalDay(3)')
    for (const c of ['certno', 'psn_name', 'brdy']) expect(await showCreate(store, 'visits')).toMatch(new RegExp(`\`${c}\` String TTL toDateTime\\(begntime\\) \\+ toIntervalDay\\(731\\)`))
    expect(await showCreate(store, 'dead_letters')).toContain('TTL toDateTime(received_at) + toIntervalDay(5)')

    const visit = (psn: string, daysAgo: number) => ({ mdtrt_id: `V-${psn}`, psn_no: psn, fixmedins_code: 'H1', med_type: '11', insutype: '310', begntime: ago(daysAgo), insuplc_admdvs: '370702',
      ipt_otp_no: '1', adm_dept_codg: 'D', atddr_no: 'DR', gend: '1', brdy: '1970-03-01', certno: '370702197003010017', psn_name: '王伟', diagnoses: [], event_id: `e-${psn}`, event_time: ago(daysAgo) })
    await store.insert('visits', [visit('OLD', 800), visit('NEW', 10)])
    const event = (id: string, daysAgo: number) => ({ event_id: id, event_type: 'visit.opened', event_time: ago(daysAgo), fixmedins_code: 'H1', psn_no: 'P', mdtrt_id: 'V', source_pos: 't', ingested_at: ago(daysAgo), raw: '{"certno":"370702197003010017"}' })
    await store.insert('events', [event('old', 4), event('new', 1)])
    await store.command(`OPTIMIZE TABLE ${store.t('visits')} FINAL`)
    await store.command(`OPTIMIZE TABLE ${store.t('events')} FINAL`)
    expect(await store.query(`SELECT psn_no, certno, psn_name, brdy, gend FROM ${store.t('visits')} ORDER BY psn_no`)).toEqual([
      { psn_no: 'NEW', certno: '370702197003010017', psn_name: '王伟', brdy: '1970-03-01', gend: '1' },
      { psn_no: 'OLD', certno: '', psn_name: '', brdy: '', gend: '1' },
    ])
    expect(await store.query(`SELECT event_id, raw FROM ${store.t('events')} ORDER BY event_id`)).toEqual([
      { event_id: 'new', raw: '{"certno":"370702197003010017"}' },
      { event_id: 'old', raw: '' },
    ])
  })

  it('re-applies when the configured days change, issues nothing when they do not, and 0 removes the TTL', async () => {
    const store = await freshStore()
    expect((await migrate(store, MIGRATIONS, fast)).retention).toEqual(['events_raw', 'visits_personal', 'dead_letters_raw'])
    expect(await showCreate(store, 'events')).toContain(`TTL toDateTime(event_time) + toIntervalDay(${DEFAULT_RETENTION.events_raw})`)
    expect((await migrate(store, MIGRATIONS, fast)).retention).toEqual([])
    expect((await migrate(store, MIGRATIONS, { ...fast, retention: { ...DEFAULT_RETENTION, events_raw: 10 } })).retention).toEqual(['events_raw'])
    expect(await showCreate(store, 'events')).toContain('TTL toDateTime(event_time) + toIntervalDay(10)')
    expect((await migrate(store, MIGRATIONS, { ...fast, retention: { ...DEFAULT_RETENTION, events_raw: 0 } })).retention).toEqual(['events_raw'])
    expect(await showCreate(store, 'events')).not.toContain('TTL')
    expect(await showCreate(store, 'visits')).toContain(`toIntervalDay(${DEFAULT_RETENTION.visits_personal})`)
  })
})

describe('reversals by person (migration 8)', () => {
  it('a state load\'s reversal lookup by psn_no reads the projection sorted by psn_no, a few granules, not the whole table', async () => {
    const store = await freshStore()
    await migrate(store, MIGRATIONS, fast)
    // 200k reversals of 20k persons, sorted by visit: without the projection a
    // lookup by person reads every granule.
    await store.command(`INSERT INTO ${store.t('fee_reversals')} SELECT concat('P', toString(number % 20000)), concat('V', toString(number)), 'L1', 'H1', concat('e', toString(number)), now64(3) FROM numbers(200000)`)
    await store.command(`INSERT INTO ${store.t('settlement_reversals')} SELECT concat('P', toString(number % 20000)), concat('S', toString(number)), concat('V', toString(number)), 'H1', concat('e', toString(number)), now64(3) FROM numbers(200000)`)
    const q = reversalsByPerson(store)
    for (const sql of [q.lines, q.settlements]) {
      const plan = (await store.query<{ explain: string }>(`EXPLAIN indexes = 1 ${sql}`, { psns: ['P17', 'P4242'] })).map((r) => r.explain).join('\n')
      expect(plan).toContain('ReadFromMergeTree (by_psn)')
      const [, read, total] = /Granules: (\d+)\/(\d+)/.exec(plan)!.map(Number)
      expect(total).toBeGreaterThan(20)
      expect(read).toBeLessThanOrEqual(4)
    }
    expect(await store.query(q.lines, { psns: ['P17'] })).toHaveLength(10)
    expect(await store.query(q.settlements, { psns: ['P17', 'P18'] })).toHaveLength(20)
  })
})

describe('visit changes and charge batches (migration 9)', () => {
  it('a data directory of version 8 upgrades in place: its lines load with no charge batch, and visit changes are stored and loaded from then on', async () => {
    const store = await freshStore()
    await migrate(store, MIGRATIONS.filter((m) => m.version <= 8), fast)
    const at = ago(1)
    await store.insert('visits', [{
      mdtrt_id: 'V9', psn_no: 'P9', fixmedins_code: 'H1', med_type: '11', insutype: '310', begntime: at, insuplc_admdvs: '110105', ipt_otp_no: 'I9',
      adm_dept_codg: 'D01', atddr_no: 'DR1', gend: '1', brdy: '1970-01-01', certno: '', psn_name: '', diagnoses: [], event_id: 'e-open', event_time: at,
    }])
    await store.insert('fee_lines', [{
      psn_no: 'P9', mdtrt_id: 'V9', feedetl_sn: 'L1', fixmedins_code: 'H1', fee_ocur_time: at, med_list_codg: 'X', medins_list_codg: 'X', list_type: 'drug',
      med_chrgitm_type: '09', cnt: '1', pric: '1', det_item_fee_sumamt: '1', bilg_dept_codg: 'D01', bilg_dr_codg: 'DR1', prd_days: null, hours: null, event_id: 'e-fee', event_time: at,
    }])
    // Every later migration too: the state load reads tables they add (shadow_alerts, 12).
    expect((await migrate(store, MIGRATIONS, fast)).applied).toEqual(MIGRATIONS.filter((m) => m.version > 8).map((m) => m.version))
    await store.insert('visit_updates', [{ psn_no: 'P9', mdtrt_id: 'V9', fixmedins_code: 'H1', med_type: '14', adm_dept_codg: '', atddr_no: '', has_diagnoses: 0, diagnoses: [], event_id: 'e-upd', event_time: at }])
    const person = (await loadPersons(store, ['P9'], Date.now() - 30 * 86_400_000)).get('P9')!
    const v = person.visits.get('V9')!
    expect([v.med_type, v.adm_dept_codg, v.lines.get('L1')!.chrg_bchno]).toEqual(['14', 'D01', undefined])
    expect(await store.query(`SELECT chrg_bchno FROM ${store.t('fee_lines')}`)).toEqual([{ chrg_bchno: '' }])
    expect(await store.query(`SELECT toString(count()) AS n FROM ${store.t('visit_cancellations')}`)).toEqual([{ n: '0' }])
  })
})

describe('the versioned rule base (migration 11)', () => {
  it('a store of version 10 keeps its rule-base changes: they read with an empty reason and parent', async () => {
    const store = await freshStore()
    await migrate(store, MIGRATIONS.filter((m) => m.version <= 10), fast)
    await store.insert('rulebase_changes', [{ hash: 'abc123abc123', at: ago(1), by: 'user:u_old', source: 'api', text: 'detectors: {}\n', detectors: [] }])
    expect((await migrate(store, MIGRATIONS.filter((m) => m.version <= 11), fast)).applied).toEqual([11])
    expect(await store.query(`SELECT hash, reason, parent FROM ${store.t('rulebase_changes')}`)).toEqual([{ hash: 'abc123abc123', reason: '', parent: '' }])
  })
})

function ago(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().replace('T', ' ').replace('Z', '')
}

describe('shadow_alerts (migration 12)', () => {
  it('has exactly the columns of alerts after every migration, in the same order and types: promotion copies rows between them', async () => {
    const store = await freshStore()
    await migrate(store, MIGRATIONS, fast)
    const columns = async (t: string) => (await store.query<{ name: string; type: string; default_expression: string }>(
      'SELECT name, type, default_expression FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY position', { db: store.db, t }))
    expect(await columns('shadow_alerts')).toEqual(await columns('alerts'))
  })
})

describe('ingest and its views (migration 14)', () => {
  it('a data directory of the version before upgrades in place: what it holds stays, events stored from then on reach the same tables and the admission indexes', async () => {
    const store = await freshStore()
    await migrate(store, MIGRATIONS.filter((m) => m.version < 14), fast)
    const day = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10)
    const t = (h: number) => `${day}T${String(h).padStart(2, '0')}:00:00+08:00`
    const before = [
      visitOpened({ event_id: 'm14-o1', mdtrt_id: 'V14A', psn_no: 'PSN140001', begntime: t(8), fixmedins_code: 'H37070200001' }),
      feeUploaded({ event_id: 'm14-f1', mdtrt_id: 'V14A', psn_no: 'PSN140001', fixmedins_code: 'H37070200001', lines: [{ feedetl_sn: 'V14A-1', fee_ocur_time: t(9), med_list_codg: 'SVC-1' }] }),
    ]
    // As the code before migration 14 stored them: typed rows written by JavaScript.
    const rows = emptyEventRows()
    for (const ev of before) addEventRows(rows, ev, JSON.stringify(ev), 'old', chTime(Date.now()))
    for (const table of EVENT_TABLES) await store.insert(table, rows[table])

    expect((await migrate(store, MIGRATIONS, fast)).applied).toEqual(MIGRATIONS.filter((m) => m.version >= 14).map((m) => m.version))
    const after = [
      feeUploaded({ event_id: 'm14-f2', mdtrt_id: 'V14A', psn_no: 'PSN140001', fixmedins_code: 'H37070200001', lines: [{ feedetl_sn: 'V14A-2', fee_ocur_time: t(10), med_list_codg: 'SVC-1' }] }),
      visitOpened({ event_id: 'm14-o2', mdtrt_id: 'V14B', psn_no: 'PSN140001', begntime: t(11), fixmedins_code: 'H37070200001' }),
    ]
    await insertIngest(store, after.map((ev) => ingestLine(ev, Date.parse(ev.event_time), JSON.stringify(ev), true, 'new', chTime(Date.now()))))

    const ids = async (table: string) => (await store.query<{ event_id: string }>(`SELECT event_id FROM ${store.t(table)} ORDER BY event_id`)).map((r) => r.event_id)
    expect(await ids('events')).toEqual(['m14-f1', 'm14-f2', 'm14-o1', 'm14-o2'])
    expect(await ids('fee_lines')).toEqual(['m14-f1', 'm14-f2'])
    expect(await ids('visits')).toEqual(['m14-o1', 'm14-o2'])
    // events feeds the admission indexes (migration 4): a view on a view's target still fires.
    expect(await ids('event_index')).toEqual(['m14-f1', 'm14-f2', 'm14-o1', 'm14-o2'])
    expect((await store.query<{ mdtrt_id: string }>(`SELECT DISTINCT mdtrt_id FROM ${store.t('visit_index')} ORDER BY mdtrt_id`)).map((r) => r.mdtrt_id)).toEqual(['V14A', 'V14B'])
    // Nothing is kept in ingest itself.
    expect(await store.query(`SELECT toString(count()) AS n FROM ${store.t('ingest')}`)).toEqual([{ n: '0' }])
    const person = (await loadPersons(store, ['PSN140001'], Date.now() - 30 * 86_400_000)).get('PSN140001')!
    expect([...person.visits.keys()].sort()).toEqual(['V14A', 'V14B'])
    expect([...person.visits.get('V14A')!.lines.keys()].sort()).toEqual(['V14A-1', 'V14A-2'])
  })
})

describe('tables read a few rows at a time in small granules (migration 15)', () => {
  const PERSON_TABLES = MIGRATIONS.find((m) => m.version === 15)!.rebuild!.tables
  /** Migrations 1–14 as the code before 15 ran them: the person tables in ClickHouse's default granules. */
  const before15 = MIGRATIONS.filter((m) => m.version < 15).map((m) => ({ ...m, statements: m.statements.map((x) => x.replace(/ SETTINGS index_granularity = \d+/, '')) }))
  const dayAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString().slice(0, 10)
  let day = dayAgo(2)
  const t = (h: number) => `${day}T${String(h).padStart(2, '0')}:00:00+08:00`
  const visit = (n: number) => [
    visitOpened({ event_id: `m15-o${n}`, mdtrt_id: `V15-${n}`, psn_no: 'PSN150001', begntime: t(8), fixmedins_code: 'H37070200001' }),
    feeUploaded({ event_id: `m15-f${n}`, mdtrt_id: `V15-${n}`, psn_no: 'PSN150001', fixmedins_code: 'H37070200001', lines: [1, 2, 3].map((k) => ({ feedetl_sn: `V15-${n}-${k}`, fee_ocur_time: t(9), med_list_codg: 'SVC-1' })) }),
    visitClosed({ event_id: `m15-c${n}`, mdtrt_id: `V15-${n}`, psn_no: 'PSN150001', endtime: t(12), dscg_maindiag_code: 'J18.9', fixmedins_code: 'H37070200001' }),
    settlementCompleted({ event_id: `m15-s${n}`, mdtrt_id: `V15-${n}`, psn_no: 'PSN150001', setl_time: t(13), fixmedins_code: 'H37070200001' }),
  ]
  const store15 = async (visits: number[]) => {
    const store = await freshStore()
    await migrate(store, before15, fast)
    await insertIngest(store, visits.flatMap(visit).map((ev) => ingestLine(ev, Date.parse(ev.event_time), JSON.stringify(ev), true, 'old', chTime(Date.now()))))
    return store
  }
  const store = async (s: Store, visits: number[]) =>
    insertIngest(s, visits.flatMap(visit).map((ev) => ingestLine(ev, Date.parse(ev.event_time), JSON.stringify(ev), true, 'new', chTime(Date.now()))))
  const granules = async (s: Store) => Object.fromEntries((await s.query<{ name: string; engine_full: string }>(
    `SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)} ORDER BY name`, { db: s.db, names: PERSON_TABLES }))
    .map((r) => [r.name, Number(/index_granularity = (\d+)/.exec(r.engine_full)?.[1])]))
  const small = Object.fromEntries([...PERSON_TABLES].sort().map((x) => [x, POINT_GRANULARITY]))
  const ids = async (s: Store, table: string, final = '') => (await s.query<{ event_id: string }>(`SELECT event_id FROM ${s.t(table)} ${final} ORDER BY event_id, ${table === 'fee_lines' ? 'feedetl_sn' : 'event_id'}`)).map((r) => r.event_id)
  const leftovers = async (s: Store) => (await s.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = {db:String} AND name LIKE '%rebuild%'`, { db: s.db })).map((r) => r.name)
  const definitions = async (s: Store) => (await s.query<{ name: string; q: string }>(
    `SELECT name, replaceRegexpOne(create_table_query, 'index_granularity = \\d+', '') AS q FROM system.tables WHERE database = {db:String} ORDER BY name`, { db: s.db })).map((r) => `${r.name}: ${r.q}`)

  it('a data directory of version 14 upgrades in place: the person tables and admission indexes rebuilt, their rows, columns, TTLs and views kept, and what is stored from then on reaches them', async () => {
    const s = await store15([1, 2])
    expect(Object.values(await granules(s))).toEqual(PERSON_TABLES.map(() => 8192))
    const defs = await definitions(s)
    const all = async (x: string) => s.query(`SELECT * FROM ${s.t(x)} ORDER BY ALL`)
    const rows = Object.fromEntries(await Promise.all(PERSON_TABLES.map(async (x) => [x, await all(x)] as const)))
    expect(rows.fee_lines).toHaveLength(6)
    expect(rows.event_index).toHaveLength(8)

    const r = await migrate(s, MIGRATIONS, fast)
    expect(r.applied).toEqual([15])
    expect([...r.rebuilt].sort()).toEqual([...PERSON_TABLES].sort())
    expect(await granules(s)).toEqual(small)
    // The same definitions but for the granularity (columns added by later migrations, indexes, retention TTLs), the same views, nothing left over.
    expect(await definitions(s)).toEqual(defs)
    expect(await leftovers(s)).toEqual([])
    for (const x of PERSON_TABLES) expect(await all(x), x).toEqual(rows[x])

    await store(s, [3])
    expect(await ids(s, 'fee_lines')).toEqual(['m15-f1', 'm15-f1', 'm15-f1', 'm15-f2', 'm15-f2', 'm15-f2', 'm15-f3', 'm15-f3', 'm15-f3'])
    expect(await ids(s, 'event_index')).toEqual(['m15-c1', 'm15-c2', 'm15-c3', 'm15-f1', 'm15-f2', 'm15-f3', 'm15-o1', 'm15-o2', 'm15-o3', 'm15-s1', 'm15-s2', 'm15-s3'])
    expect(await ids(s, 'settlements')).toEqual(['m15-s1', 'm15-s2', 'm15-s3'])
    const person = (await loadPersons(s, ['PSN150001'], Date.now() - 30 * 86_400_000)).get('PSN150001')!
    expect([...person.visits.keys()].sort()).toEqual(['V15-1', 'V15-2', 'V15-3'])
    expect(person.visits.get('V15-3')!.lines.size).toBe(3)
    // A store made by this code has its tables so from the start: nothing to rebuild.
    const fresh = await freshStore()
    const made = await migrate(fresh, MIGRATIONS, fast)
    expect(made.rebuilt).toEqual([])
    expect(await granules(fresh)).toEqual(small)
  })

  /** The real store, recording the commands it runs and failing once at the nth that matches `at` (if given): a migrator that died at that point. */
  const dyingAt = (s: Store, at: RegExp | undefined, nth = 1, issued: string[] = []) => {
    let seen = 0
    return new Proxy(s, {
      get(target, prop, recv) {
        if (prop !== 'command') return Reflect.get(target, prop, recv)
        return async (sql: string, ...rest: unknown[]) => {
          issued.push(sql)
          if (at?.test(sql) && ++seen === nth) throw new Error(`migrator died before: ${sql.slice(0, 60)}`)
          return (target.command as (...a: unknown[]) => Promise<void>).call(target, sql, ...rest)
        }
      },
    })
  }

  it('a migrator that dies before the swap: the next run finishes it, with what was stored in between, each row once', async () => {
    const s = await store15([1, 2])
    await expect(migrate(dyingAt(s, /^EXCHANGE TABLES \S+\.fee_lines /), MIGRATIONS, fast)).rejects.toThrow('migrator died')
    // Killed after the copy: fee_lines_rebuild holds the rows, and its view writes it too, alongside fee_lines.
    expect(await leftovers(s)).toContain('fee_lines_rebuild')
    await store(s, [3])
    expect(await ids(s, 'fee_lines_rebuild')).toContain('m15-f3')
    expect((await migrate(s, MIGRATIONS, fast)).applied).toEqual([15])
    expect(await granules(s)).toEqual(small)
    expect(await leftovers(s)).toEqual([])
    // Each row once through FINAL (a partition copied again collapses onto its rows, as a replay's do).
    expect(await ids(s, 'fee_lines', 'FINAL')).toEqual(['m15-f1', 'm15-f1', 'm15-f1', 'm15-f2', 'm15-f2', 'm15-f2', 'm15-f3', 'm15-f3', 'm15-f3'])
  })

  it('a migrator that dies in the copy resumes it: a month it copied whole is not copied again', async () => {
    // Visit 1 a month and more before visit 2: two monthly partitions in each table.
    day = dayAgo(70)
    const s = await store15([1])
    day = dayAgo(2)
    await store(s, [2])
    const months = async () => (await s.query<{ n: string }>(`SELECT toString(uniqExact(partition_id)) AS n FROM system.parts WHERE database = {db:String} AND table = 'fee_lines' AND active`, { db: s.db }))[0]!.n
    expect(await months()).toBe('2')
    const copy = /^INSERT INTO \S+\.fee_lines_rebuild SELECT/
    const first: string[] = []
    await expect(migrate(dyingAt(s, copy, 2, first), MIGRATIONS, fast)).rejects.toThrow('migrator died')
    expect(first.filter((x) => copy.test(x))).toHaveLength(2)
    // The second run copies the month the first could not, and only that one.
    const second: string[] = []
    expect((await migrate(dyingAt(s, undefined, 1, second), MIGRATIONS, fast)).applied).toEqual([15])
    expect(second.filter((x) => copy.test(x))).toHaveLength(1)
    expect(await granules(s)).toEqual(small)
    expect(await ids(s, 'fee_lines', 'FINAL')).toEqual(['m15-f1', 'm15-f1', 'm15-f1', 'm15-f2', 'm15-f2', 'm15-f2'])
  })

  it('a migrator that dies after the swap: the next run does not swap back, it only drops what is left', async () => {
    const s = await store15([1, 2])
    await expect(migrate(dyingAt(s, /^DROP TABLE IF EXISTS \S+\.visits_rebuild/), MIGRATIONS, fast)).rejects.toThrow('migrator died')
    expect((await granules(s)).visits).toBe(POINT_GRANULARITY)
    await store(s, [3])
    expect((await migrate(s, MIGRATIONS, fast)).applied).toEqual([15])
    expect(await granules(s)).toEqual(small)
    expect(await leftovers(s)).toEqual([])
    expect(await ids(s, 'visits', 'FINAL')).toEqual(['m15-o1', 'm15-o2', 'm15-o3'])
  })
})
