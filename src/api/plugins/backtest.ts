import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { BacktestJobs } from '../../backtest/jobs.ts'
import { BacktestResult } from '../../backtest/result.ts'
import { FundwatchError } from '../../errors.ts'
import { who, type ApiDeps } from '../context.ts'
import { errors } from '../schemas.ts'

const Status = z.enum(['running', 'done', 'cancelled', 'failed'])
const Job = z.object({
  job_id: z.string(), status: Status, by: z.string(),
  window: z.object({ from: z.string(), to: z.string() }),
  baseline_hash: z.string(), candidate_hash: z.string(),
  progress: z.object({ events_done: z.number().int(), events_total: z.number().int() }),
  started_at: z.string(), finished_at: z.string().optional(), error: z.string().optional(),
  result: BacktestResult.optional(),
})
const When = z.string().min(10).max(40).describe('YYYY-MM-DD (China day; `to` inclusive) or RFC 3339 with offset (`to` exclusive)')
const Id = z.object({ id: z.string().min(1).max(64) })

/**
 * The start's body holds a whole rule base (256 KiB at most, as PUT) and may
 * hold a generated dataset's labels: those of the bench's 1.1M-line dataset
 * take about 1.3 MiB. Above every other route's 64 KiB, for this one route.
 */
export const BACKTEST_BODY_LIMIT = 4 * 1024 * 1024

/**
 * Rule backtests over HTTP (docs/api.md, "Rule backtest"): a candidate rule
 * base replayed over a window of stored history as a background job of this
 * process, next to the rule base in force. Admins without a scope only: a
 * backtest reads every region's history and names its persons.
 */
export const backtestPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()
  const jobs = new BacktestJobs(deps.app, deps.now)
  f.addHook('onClose', async () => {
    const running = jobs.running()
    if (running) await jobs.cancel(running.job_id).catch(() => undefined)
  })
  const unscoped = (req: FastifyRequest) => {
    const p = who(req)
    if (p.admdvs.length || p.fixmedins_codes.length) throw new FundwatchError('FORBIDDEN', 'only an admin without a scope may backtest the rule base: it reads every region\'s history')
    return p
  }

  r.post('/api/v1/rules/backtest', {
    config: { roles: ['admin'] },
    bodyLimit: BACKTEST_BODY_LIMIT,
    schema: {
      tags: ['rules'], summary: 'Start a backtest of a candidate rule base over stored history (one at a time per process; 409 while one runs)',
      body: z.object({
        text: z.string().min(1).max(256 * 1024).describe('The candidate rule base, YAML or JSON; refused with its line as PUT /api/v1/rules would'),
        from: When, to: When,
        labels: z.string().max(BACKTEST_BODY_LIMIT).optional().describe('A generated dataset\'s labels.jsonl, as text: precision and recall against it'),
      }),
      response: { 202: z.object({ job_id: z.string() }), ...errors },
    },
  }, async (req, reply) => {
    const p = unscoped(req)
    const job = await jobs.start(req.body, `user:${p.id}`)
    reply.code(202)
    return { job_id: job.job_id }
  })

  r.get('/api/v1/rules/backtest', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['rules'], summary: 'Recent backtests, newest first, without their results',
      querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
      response: { 200: z.object({ jobs: z.array(Job) }), ...errors },
    },
  }, async (req) => {
    unscoped(req)
    return { jobs: await jobs.list(req.query.limit) }
  })

  r.get('/api/v1/rules/backtest/:id', {
    config: { roles: ['admin'] },
    schema: { tags: ['rules'], summary: 'One backtest: progress while it runs, the result when done', params: Id, response: { 200: Job, ...errors } },
  }, async (req) => {
    unscoped(req)
    return jobs.get(req.params.id)
  })

  r.delete('/api/v1/rules/backtest/:id', {
    config: { roles: ['admin'] },
    schema: { tags: ['rules'], summary: 'Cancel a running backtest (it stops between two chunks); 409 when it is not running', params: Id, response: { 200: Job, ...errors } },
  }, async (req) => {
    unscoped(req)
    return jobs.cancel(req.params.id)
  })
}
