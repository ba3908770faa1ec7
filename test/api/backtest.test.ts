import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BacktestJobs } from '../../src/backtest/jobs.ts'
import type { BacktestResult } from '../../src/backtest/result.ts'
import { INST_A, eventsFor, fixture, people, type Fixture } from './fixture.ts'

/**
 * POST/GET/DELETE /api/v1/rules/backtest: a backtest as a background job of
 * the API process — started (202), read while it runs and when done,
 * cancelled, recorded for any replica; an invalid candidate refused with its
 * line, before anything runs.
 */
let fx: Fixture
let stored = 0
const WINDOW = { from: '2026-03-01', to: '2026-03-31' }
const OFF = 'detectors:\n  duplicate-charge:\n    enabled: false\n'

interface Job { job_id: string; status: string; progress: { events_done: number; events_total: number }; result?: BacktestResult; error?: string }

async function until(id: string, done: (j: Job) => boolean): Promise<Job> {
  for (;;) {
    const j = (await fx.call('admin', 'GET', `/api/v1/rules/backtest/${id}`)).json() as Job
    if (done(j)) return j
    await new Promise((r) => setTimeout(r, 20))
  }
}

beforeAll(async () => {
  fx = await fixture()
  // Enough history that a backtest takes several reads: a cancel right after the start finds it running.
  await fx.ingest(people(2500, INST_A).flatMap((p) => eventsFor(p, 2 + (Number(p.psn_no.slice(-2)) % 20), 'bt')))
  stored = Number((await fx.app.store.query<{ c: string }>(`SELECT count() AS c FROM ${fx.app.store.t('events')} FINAL`))[0]!.c)
}, 300_000)
afterAll(async () => fx?.close())

describe('rule backtest over HTTP', () => {
  it('runs a job to the end: progress over every stored event of the window, the result, recorded for any replica', async () => {
    const started = await fx.call('admin', 'POST', '/api/v1/rules/backtest', { text: OFF, ...WINDOW })
    expect(started.statusCode, started.body).toBe(202)
    const { job_id } = started.json() as { job_id: string }
    const running = (await fx.call('admin', 'GET', `/api/v1/rules/backtest/${job_id}`)).json() as Job
    expect(running.status).toBe('running')
    expect(running.result).toBeUndefined()
    const done = await until(job_id, (j) => j.status !== 'running')
    expect(done.status, done.error).toBe('done')
    expect(done.progress).toEqual({ events_done: stored, events_total: stored })
    const dup = done.result!.detectors.find((d) => d.detector === 'duplicate-charge')!
    expect(dup.baseline.alerts).toBe(2500)
    expect(dup).toMatchObject({ baseline_mode: 'on', candidate_mode: 'off', candidate: { alerts: 0, amount_at_risk: '0.00' }, removed: { count: 2500 }, added: { count: 0 } })
    expect(dup.removed.sample).toHaveLength(20)
    for (const d of done.result!.detectors.filter((x) => x.detector !== 'duplicate-charge')) expect([d.detector, d.added.count, d.removed.count, d.changed.count]).toEqual([d.detector, 0, 0, 0])

    const list = (await fx.call('admin', 'GET', '/api/v1/rules/backtest')).json() as { jobs: Job[] }
    expect(list.jobs[0]).toMatchObject({ job_id, status: 'done' })
    expect(list.jobs[0]!.result).toBeUndefined()
    // Another API process knows the job only from backtest_runs.
    const elsewhere = await new BacktestJobs(fx.app).get(job_id)
    expect(elsewhere.result).toEqual(done.result)
    expect(elsewhere.status).toBe('done')
  })

  it('a job reads as finished only once it is recorded: another replica finds it the moment this one says done', async () => {
    // The store records slowly, as under load: a job that said done before its row was written was not found elsewhere.
    const slow = new Proxy(fx.app.store, { get: (target, prop, recv) => prop !== 'insert' ? Reflect.get(target, prop, recv)
      : async (table: string, ...rest: unknown[]) => {
        if (table === 'backtest_runs') await new Promise((r) => setTimeout(r, 500))
        return (target.insert as (...a: unknown[]) => Promise<void>).call(target, table, ...rest)
      } })
    const jobs = new BacktestJobs({ ...fx.app, store: slow })
    const { job_id } = await jobs.start({ text: OFF, ...WINDOW }, 'test')
    let seen = await jobs.get(job_id)
    while (seen.status === 'running') {
      await new Promise((r) => setTimeout(r, 10))
      seen = await jobs.get(job_id)
    }
    expect(seen.status).toBe('done')
    expect((await new BacktestJobs(fx.app).get(job_id)).status).toBe('done')
  })

  it('refuses a second job while one runs (409), cancels the running one, and refuses to cancel it twice', async () => {
    const a = await fx.call('admin', 'POST', '/api/v1/rules/backtest', { text: OFF, ...WINDOW })
    expect(a.statusCode).toBe(202)
    const id = (a.json() as { job_id: string }).job_id
    const b = await fx.call('admin', 'POST', '/api/v1/rules/backtest', { text: OFF, ...WINDOW })
    expect(b.statusCode).toBe(409)
    expect(b.json().error).toBe('CONFLICT')
    const cancelled = await fx.call('admin', 'DELETE', `/api/v1/rules/backtest/${id}`)
    expect(cancelled.statusCode, cancelled.body).toBe(200)
    expect(cancelled.json()).toMatchObject({ job_id: id, status: 'cancelled' })
    expect(cancelled.json().result).toBeUndefined()
    expect(cancelled.json().progress.events_done).toBeLessThan(stored)
    expect((await fx.call('admin', 'GET', `/api/v1/rules/backtest/${id}`)).json()).toMatchObject({ status: 'cancelled' })
    expect((await new BacktestJobs(fx.app).get(id)).status).toBe('cancelled')
    expect((await fx.call('admin', 'DELETE', `/api/v1/rules/backtest/${id}`)).statusCode).toBe(409)
    // The slot is free again.
    const c = await fx.call('admin', 'POST', '/api/v1/rules/backtest', { text: OFF, ...WINDOW })
    expect(c.statusCode).toBe(202)
    await until((c.json() as { job_id: string }).job_id, (j) => j.status !== 'running')
  })

  it('refuses an invalid candidate with its line, as PUT /api/v1/rules would, and starts nothing', async () => {
    const before = ((await fx.call('admin', 'GET', '/api/v1/rules/backtest')).json() as { jobs: Job[] }).jobs.length
    const text = 'detectors:\n  over-standard-charge:\n    params:\n      min_excess_amount: -5\n'
    const r = await fx.call('admin', 'POST', '/api/v1/rules/backtest', { text, ...WINDOW })
    expect(r.statusCode).toBe(400)
    expect(r.json().error).toBe('RULEBASE_INVALID')
    expect(r.json().message).toMatch(/candidate:4: detectors\.over-standard-charge\.params/)
    const put = await fx.call('admin', 'PUT', '/api/v1/rules', { text, reason: 'same refusal as the backtest' })
    expect(put.json().message.replace(/^[^:]*:/, '')).toBe(r.json().message.replace(/^[^:]*:/, ''))
    expect((await fx.call('admin', 'POST', '/api/v1/rules/backtest', { text: OFF, from: '2026-03-31', to: '2026-03-01' })).statusCode).toBe(400)
    expect((await fx.call('admin', 'POST', '/api/v1/rules/backtest', { text: OFF, from: 'yesterday', to: '2026-03-01' })).statusCode).toBe(400)
    expect(((await fx.call('admin', 'GET', '/api/v1/rules/backtest')).json() as { jobs: Job[] }).jobs.length).toBe(before)
  })

  it('takes a dataset\'s labels beyond the 64 KiB other bodies may have, and scores both sides against them', async () => {
    // Labels on nothing stored: every standing alert is unmatched, no label is found.
    const label = (i: number) => JSON.stringify({ pattern: 'duplicate-charge', fixmedins_code: INST_A, refs: { mdtrt_ids: [], feedetl_sns: [`NO-SUCH-LINE-${i}`], setl_ids: [] }, note: 'x'.repeat(100) })
    const labels = Array.from({ length: 1000 }, (_, i) => label(i)).join('\n') + '\n'
    expect(labels.length).toBeGreaterThan(128 * 1024)
    const r = await fx.call('admin', 'POST', '/api/v1/rules/backtest', { text: OFF, ...WINDOW, labels })
    expect(r.statusCode, r.body).toBe(202)
    const done = await until((r.json() as { job_id: string }).job_id, (j) => j.status !== 'running')
    expect(done.result!.labelled).toBe(true)
    expect(done.result!.detectors.find((d) => d.detector === 'duplicate-charge')!.labels).toEqual({ baseline: { precision: 0, recall: 0 }, candidate: { precision: null, recall: 0 } })
    expect((await fx.call('admin', 'POST', '/api/v1/rules/backtest', { text: OFF, ...WINDOW, labels: 'not json\n' })).statusCode).toBe(400)
  })

  it('answers 404 for an unknown job, and 403 to an admin limited to a region', async () => {
    expect((await fx.call('admin', 'GET', '/api/v1/rules/backtest/nope')).statusCode).toBe(404)
    expect((await fx.call('adminA', 'POST', '/api/v1/rules/backtest', { text: OFF, ...WINDOW })).statusCode).toBe(403)
    expect((await fx.call('adminA', 'GET', '/api/v1/rules/backtest')).statusCode).toBe(403)
  })
})
