import { randomInt } from 'node:crypto'
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { z } from 'zod'
import { NationalAnalysisResponse, NationalRequestEnvelope, NationalResponseEnvelope } from '../../../schemas/national.ts'
import { maskText } from '../../auth/mask.ts'
import { canSee, ROLES, type Principal } from '../../auth/principal.ts'
import { FundwatchError, NationalRefusal } from '../../errors.ts'
import { analyse, issueText, type AnalysisInfno } from '../../precheck/national.ts'
import { feedbackService } from '../../review/feedback.ts'
import { cnIso } from '../../util/time.ts'
import { who, type ApiDeps } from '../context.ts'

/**
 * The national platform's transactions served over HTTP (docs/national-analysis.md):
 * the HIS sends the request envelope it sends the platform and hears the
 * platform's response envelope. Each transaction has its own path
 * (`/api/v1/national/<infno>`), and `POST /api/v1/national` takes any of them
 * and dispatches on the envelope's `infno`, as the platform's one gateway URL does.
 */

/**
 * A national request body: the printed input limit is C(40000) characters, at
 * most 3 bytes each in UTF-8, plus the envelope.
 */
export const NATIONAL_BODY_LIMIT = 128 * 1024

/** What a transaction's service is given: the caller, the checked envelope, the whole body (validated by the service). */
export interface NationalCall {
  deps: ApiDeps
  caller: Principal
  envelope: z.infer<typeof NationalRequestEnvelope>
  body: unknown
  /** The request's time (deps.now()). */
  now: number
}

/** A transaction: returns its `output` node, or throws a NationalRefusal (answered infcode -1). */
export type NationalService = (call: NationalCall) => Promise<Record<string, unknown>>

/** 3101/3102 through the pre-check, timed as pre-checks are (fundwatch_precheck_seconds). */
function analysis(infno: AnalysisInfno): NationalService {
  return async ({ deps, caller, body, now }) => {
    const t0 = performance.now()
    const observe = (outcome: string) => deps.app.metrics.precheckSeconds.observe({ outcome }, (performance.now() - t0) / 1000)
    try {
      const out = await analyse(deps.app, caller, infno, body, now)
      observe(out.result.length ? 'findings' : 'clean')
      return out
    } catch (err) {
      observe(err instanceof NationalRefusal || (err instanceof FundwatchError && err.statusCode < 500) ? 'refused' : 'error')
      throw err
    }
  }
}

/**
 * The transactions answered here, by infno. `POST /api/v1/national`
 * dispatches through this map; a transaction served by another plugin adds
 * its line here and registers its own path with `nationalRoute`.
 */
export const NATIONAL_SERVICES: Record<string, NationalService> = {
  '3101': analysis('3101'),
  '3102': analysis('3102'),
  '3103': feedbackService,
}

/** yyyyMMddHHmmssSSS, China time. */
function stamp(ms: number): string {
  return cnIso(ms).replace(/\.\d+/, '').slice(0, 19).replace(/\D/g, '') + String(ms % 1000).padStart(3, '0')
}

function division(body: unknown): string {
  const v = body !== null && typeof body === 'object' ? String((body as Record<string, unknown>).mdtrtarea_admvs ?? '') : ''
  return /^\d{6}$/.test(v) ? v : '000000'
}

/** The response envelope: infcode, 接收方报文ID (division + time + 10-digit serial), the two times, err_msg, output. */
function envelope(body: unknown, received: number, responded: number, out: { output: Record<string, unknown> } | { err_msg: string }): z.infer<typeof NationalResponseEnvelope> {
  return {
    infcode: 'output' in out ? 0 : -1,
    inf_refmsgid: `${division(body)}${stamp(received).slice(0, 14)}${String(randomInt(10_000_000_000)).padStart(10, '0')}`,
    refmsg_time: stamp(received),
    respond_time: stamp(Math.max(received, responded)),
    err_msg: 'output' in out ? '' : maskText(out.err_msg).slice(0, 1000),
    ...('output' in out ? { output: out.output } : {}),
  }
}

/**
 * Every refusal in national form (docs/national-analysis.md, "Errors"). A
 * transaction the service judged and refused — a malformed body or envelope,
 * a missing field, a wrong infno, a body over the limit, an institution the
 * token does not speak for, a draft the pre-check refuses — is HTTP 200 with
 * infcode -1, as the platform answers: the HIS reads infcode and shows
 * err_msg. What the HIS's operator must fix (no or a revoked token: 401), a
 * rate limit (429) and fundwatch's own failures (503 store, 500) keep their
 * HTTP status, with the same national body.
 */
function nationalErrors(deps: ApiDeps) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const now = deps.now()
    // Beside the national fields, a status other than 200 carries the API's error code (docs/api.md, "Errors"), as every route's does.
    const fail = (status: number, msg: string, error?: string) => reply.status(status).send({ ...envelope(req.body, now, deps.now(), { err_msg: msg }), ...(error ? { error } : {}) })
    if (err instanceof NationalRefusal) return fail(200, err.message)
    const status = err instanceof FundwatchError ? err.statusCode : (err.statusCode ?? 500)
    if (status >= 500) {
      deps.app.log.error({ err: { type: err.name, code: err.code, message: String(err.message).slice(0, 500) }, route: req.routeOptions.url }, 'request failed')
      return status === 503 ? fail(503, 'the store did not answer; try again shortly (服务暂不可用)', err.code) : fail(500, 'internal error (服务内部错误)', 'INTERNAL')
    }
    // Not the transaction's fault (no token, a role that may not send it, the rate limit): the HTTP status says so; the body is still national.
    if (status === 401 || status === 403 || status === 429) return fail(status, err.message, status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'FORBIDDEN' : 'RATE_LIMITED')
    if (status === 413) return fail(200, `the request is over ${NATIONAL_BODY_LIMIT / 1024} KiB (报文超长; the printed input limit is 40000 characters)`)
    return fail(200, err.message)
  }
}

/** The envelope, checked: well formed, the transaction the path serves, an institution the caller speaks for. */
function admitEnvelope(deps: ApiDeps, caller: Principal, body: unknown, infno: string | undefined): z.infer<typeof NationalRequestEnvelope> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new NationalRefusal('the body is not a national request envelope (a JSON object with infno, msgid, inf_time, fixmedins_code, input)')
  const r = NationalRequestEnvelope.safeParse(body)
  if (!r.success) throw new NationalRefusal(issueText(r.error, body))
  const env = r.data
  if (infno !== undefined && env.infno !== infno) throw new NationalRefusal(`infno: ${env.infno} sent to the ${infno} service; send it to /api/v1/national/${env.infno} or /api/v1/national`)
  if (NATIONAL_SERVICES[env.infno] === undefined) throw new NationalRefusal(`infno: ${env.infno} is not a transaction fundwatch answers (${Object.keys(NATIONAL_SERVICES).join(', ')})`)
  const inst = env.fixmedins_code
  const allowed = caller.role === 'precheck'
    ? caller.fixmedins_codes.includes(inst)
    : canSee(caller, { fixmedins_code: inst, admdvs: deps.app.kb().institutions.get(inst)?.admdvs ?? '' })
  if (!allowed) {
    const speaks = caller.role === 'precheck' ? `this token speaks for ${caller.fixmedins_codes.join(', ') || 'no institution'}` : 'it is outside your scope'
    throw new NationalRefusal(`fixmedins_code: ${inst} — ${speaks} (机构编号与令牌不符)`)
  }
  return env
}

/** Registers one national path: `infno` fixes the transaction, undefined dispatches on the envelope's. */
export function nationalRoute(f: FastifyInstance, deps: ApiDeps, url: string, infno: string | undefined, o: { summary: string; description: string; response: z.ZodType }): void {
  f.withTypeProvider<ZodTypeProvider>().post(url, {
    config: { roles: ROLES },
    bodyLimit: NATIONAL_BODY_LIMIT,
    errorHandler: nationalErrors(deps),
    schema: {
      tags: ['national'],
      summary: o.summary,
      description: o.description,
      response: { 200: o.response, 401: NationalResponseEnvelope, 403: NationalResponseEnvelope, 429: NationalResponseEnvelope, 500: NationalResponseEnvelope, 503: NationalResponseEnvelope },
    },
  }, async (req) => {
    const received = deps.now()
    const caller = who(req)
    const env = admitEnvelope(deps, caller, req.body, infno)
    const output = await NATIONAL_SERVICES[env.infno]!({ deps, caller, envelope: env, body: req.body, now: received })
    return envelope(req.body, received, deps.now(), { output })
  })
}

const ANALYSIS = 'The national request envelope with input.data (rule_ids, task_id, trig_scen, patient_dtos[].fsi_encounter_dtos[] with diagnoses, orders, operations): JSON Schema in schemas/json/national-31xx-request.schema.json. '
  + 'The current encounter of each person runs through the pre-check as a draft (docs/national-analysis.md); the answer is the national response envelope with output.result[] (jr_id = the alert_id of the 事中 alert for the same facts). '
  + `Refusals: infcode -1 with err_msg (HTTP 200; 401/429/5xx keep their status). Body at most ${NATIONAL_BODY_LIMIT / 1024} KiB.`

/** POST /api/v1/national/3101, /3102, and /api/v1/national (dispatch on infno). */
export const nationalPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  nationalRoute(f, deps, '/api/v1/national/3101', '3101', { summary: '3101 明细审核事前分析: the 事前 detectors on the orders of the current encounter', description: ANALYSIS, response: NationalAnalysisResponse })
  nationalRoute(f, deps, '/api/v1/national/3102', '3102', { summary: '3102 明细审核事中分析: the 事中 detectors on the encounter at (pre-)settlement', description: ANALYSIS, response: NationalAnalysisResponse })
  nationalRoute(f, deps, '/api/v1/national', undefined, {
    summary: 'Any national transaction fundwatch answers, dispatched on the envelope\'s infno (one URL, as the platform\'s gateway)',
    description: `infno ${Object.keys(NATIONAL_SERVICES).join(', ')}; each answers as on its own path.`,
    response: NationalResponseEnvelope,
  })
}
