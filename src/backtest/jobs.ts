import { randomUUID } from 'node:crypto'
import type { App } from '../app.ts'
import { parseRules, rulesHash } from '../detect/rules-file.ts'
import { FundwatchError } from '../errors.ts'
import type { Label } from '../generator/labels.ts'
import { chTime, cnIso, fromChTime, parseWhen } from '../util/time.ts'
import { backtest, parseLabels, type BacktestProgress } from './backtest.ts'
import { BacktestResult } from './result.ts'

export type JobStatus = 'running' | 'done' | 'cancelled' | 'failed'

export interface BacktestJob {
  job_id: string
  status: JobStatus
  by: string
  window: { from: string; to: string }
  baseline_hash: string
  candidate_hash: string
  progress: BacktestProgress
  started_at: string
  finished_at?: string
  error?: string
  result?: BacktestResult
}

/** What a backtest needs of the app: the store, the knowledge base and rule base in force, the detectors, the log. */
export type BacktestApp = Pick<App, 'store' | 'kb' | 'engine' | 'rulesInForce' | 'registry' | 'log' | 'config'>

/** The hash of the rule base this process runs (the baseline engine's): '' is reported as 'defaults' (no version recorded). */
export function hashInForce(app: Pick<BacktestApp, 'rulesInForce'>): string {
  return app.rulesInForce().hash || 'defaults'
}

export interface BacktestRequest {
  text: string
  from: string
  to: string
  labels?: string
}

/** The request judged before anything runs: the candidate validated as PUT would (RULEBASE_INVALID with its line), the window, the labels. */
export function prepare(app: Pick<BacktestApp, 'registry'>, req: BacktestRequest, source = 'candidate'): { engine: ReturnType<typeof parseRules>['engine']; hash: string; from: number; to: number; labels?: Label[] } {
  const { engine } = parseRules(req.text, app.registry, source)
  const from = parseWhen(req.from, false)
  const to = parseWhen(req.to, true)
  if (!(from < to)) throw new FundwatchError('BAD_REQUEST', `from must be before to (${req.from} .. ${req.to})`)
  let labels: Label[] | undefined
  if (req.labels !== undefined) {
    try {
      labels = parseLabels(req.labels)
    } catch (cause) {
      throw new FundwatchError('BAD_REQUEST', `labels: not JSON lines of labels (${(cause as Error).message})`, { cause })
    }
  }
  return { engine, hash: rulesHash(req.text), from, to, ...(labels ? { labels } : {}) }
}

interface Running { job: BacktestJob; ac: AbortController; done: Promise<void> }

/**
 * Backtests as background jobs of one API process: one at a time (a backtest
 * reads the whole window and holds two person states; two would only halve
 * each other's speed), each cancellable, its progress readable while it runs.
 * A finished job (done, cancelled or failed) is written to backtest_runs
 * before it reads as finished, so any API replica can show it and it stays
 * on record; the job that is running is known only to its process.
 */
export class BacktestJobs {
  private readonly jobs = new Map<string, Running>()

  constructor(private readonly app: BacktestApp, private readonly now: () => number = Date.now) {}

  running(): BacktestJob | undefined {
    for (const r of this.jobs.values()) if (r.job.status === 'running') return r.job
    return undefined
  }

  async start(req: BacktestRequest, by: string): Promise<BacktestJob> {
    const p = prepare(this.app, req)
    const busy = this.running()
    if (busy) throw new FundwatchError('CONFLICT', `backtest ${busy.job_id} is running; cancel it or wait for it to finish`)
    const job: BacktestJob = {
      job_id: randomUUID(), status: 'running', by, window: { from: cnIso(p.from), to: cnIso(p.to) },
      baseline_hash: hashInForce(this.app), candidate_hash: p.hash, progress: { events_done: 0, events_total: 0 }, started_at: new Date(this.now()).toISOString(),
    }
    const ac = new AbortController()
    const baseline = this.app.engine()
    const kb = this.app.kb()
    const run = async () => {
      // How it ended is recorded first and shown after: a job that reads as finished is in backtest_runs, for any replica.
      const ended: Pick<BacktestJob, 'status' | 'result' | 'error'> = { status: 'running' }
      try {
        const result = await backtest({
          store: this.app.store, kb, baseline: { engine: baseline, hash: job.baseline_hash }, candidate: { engine: p.engine, hash: p.hash },
          from: p.from, to: p.to, ...(p.labels ? { labels: p.labels } : {}), signal: ac.signal, onProgress: (x) => { job.progress = x },
        })
        // A cancel that came while the last reads ran still wins: what the caller was told (cancelled) is what is recorded.
        if (ac.signal.aborted) ended.status = 'cancelled'
        else {
          ended.result = result
          ended.status = 'done'
        }
      } catch (err) {
        if (ac.signal.aborted) ended.status = 'cancelled'
        else {
          ended.status = 'failed'
          ended.error = err instanceof FundwatchError ? err.message : 'the backtest failed; see the log'
          this.app.log.error({ err, job_id: job.job_id }, 'backtest failed')
        }
      }
      const finished: BacktestJob = { ...job, ...ended, finished_at: new Date(this.now()).toISOString() }
      this.app.log.info({ job_id: job.job_id, status: finished.status, events: job.progress.events_done, by }, 'backtest finished')
      await this.persist(finished).catch((err: unknown) => this.app.log.error({ err, job_id: job.job_id }, 'backtest result not recorded; it stays readable from this process'))
      Object.assign(job, finished)
    }
    this.jobs.set(job.job_id, { job, ac, done: run() })
    // Finished jobs beyond the last few are read back from the store.
    for (const [id, r] of this.jobs) if (this.jobs.size > 20 && r.job.status !== 'running') this.jobs.delete(id)
    return job
  }

  /** Cancels a running job; answers the job once it has stopped (between two chunks). A finished job cannot be cancelled (409). */
  async cancel(id: string): Promise<BacktestJob> {
    const r = this.jobs.get(id)
    const status = r ? r.job.status : (await this.get(id)).status
    if (!r || status !== 'running') throw new FundwatchError('CONFLICT', `backtest ${id} is not running (${status})`)
    r.ac.abort(new FundwatchError('CONFLICT', 'cancelled'))
    await r.done
    return r.job
  }

  /** Waits for a job of this process to finish (tests, the CLI). */
  async settled(id: string): Promise<void> {
    await this.jobs.get(id)?.done
  }

  async get(id: string): Promise<BacktestJob> {
    const r = this.jobs.get(id)
    if (r) return r.job
    const [row] = await this.app.store.query<Row>(`SELECT * FROM ${this.app.store.t('backtest_runs')} FINAL WHERE job_id = {id:String}`, { id })
    if (!row) throw new FundwatchError('NOT_FOUND', `no backtest ${id}`)
    return fromRow(row, true)
  }

  /** The running job and the latest recorded ones, newest first, without their results. */
  async list(limit = 50): Promise<BacktestJob[]> {
    const rows = await this.app.store.query<Row>(`SELECT * EXCEPT result FROM ${this.app.store.t('backtest_runs')} FINAL ORDER BY started_at DESC, job_id LIMIT {limit:UInt32}`, { limit })
    const out = new Map<string, BacktestJob>()
    for (const r of this.jobs.values()) out.set(r.job.job_id, withoutResult(r.job))
    for (const r of rows) if (!out.has(r.job_id)) out.set(r.job_id, fromRow(r, false))
    return [...out.values()].sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at)).slice(0, limit)
  }

  private async persist(job: BacktestJob): Promise<void> {
    await this.app.store.insert('backtest_runs', [{
      job_id: job.job_id, status: job.status, by: job.by, window_from: chTime(Date.parse(job.window.from)), window_to: chTime(Date.parse(job.window.to)),
      baseline_hash: job.baseline_hash, candidate_hash: job.candidate_hash, events_done: job.progress.events_done, events_total: job.progress.events_total,
      started_at: chTime(Date.parse(job.started_at)), finished_at: chTime(Date.parse(job.finished_at!)), error: job.error ?? '',
      result: job.result ? JSON.stringify(job.result) : '',
    }])
  }
}

interface Row {
  job_id: string; status: JobStatus; by: string; window_from: string; window_to: string; baseline_hash: string; candidate_hash: string
  events_done: string; events_total: string; started_at: string; finished_at: string; error: string; result?: string
}

function fromRow(r: Row, withResult: boolean): BacktestJob {
  return {
    job_id: r.job_id, status: r.status, by: r.by, window: { from: cnIso(fromChTime(r.window_from)), to: cnIso(fromChTime(r.window_to)) },
    baseline_hash: r.baseline_hash, candidate_hash: r.candidate_hash, progress: { events_done: Number(r.events_done), events_total: Number(r.events_total) },
    started_at: new Date(fromChTime(r.started_at)).toISOString(), finished_at: new Date(fromChTime(r.finished_at)).toISOString(), ...(r.error ? { error: r.error } : {}),
    ...(withResult && r.result ? { result: BacktestResult.parse(JSON.parse(r.result)) } : {}),
  }
}

function withoutResult(j: BacktestJob): BacktestJob {
  const { result: _, ...rest } = j
  return { ...rest }
}
