import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { personal } from '../../auth/mask.ts'
import { CASEWORK, scopeSql } from '../../auth/principal.ts'
import { FundwatchError } from '../../errors.ts'
import { loadClaims } from '../../evidence/claims.ts'
import { buildEvidencePack, type Manifest, type PackAlert } from '../../evidence/pack.ts'
import type { CaseRec } from '../../review/cases.ts'
import { purposeOf, reveals, who, type ApiDeps } from '../context.ts'
import { AccessEntry, AlertOrDegraded, Case, CaseId, Claims, Purpose, errors } from '../schemas.ts'
import { caseBundle, caseOut, visibleCase } from './cases.ts'

/**
 * The evidence pack of a case, logged as an export first (no record, no pack).
 * Shared by the API and `fundwatch evidence`.
 */
export async function exportCasePack(deps: ApiDeps, c: CaseRec, by: { id: string; name: string; role: string }, purpose: string, reveal: boolean): Promise<{ zip: Uint8Array; manifest: Manifest }> {
  await deps.access.record(by, { action: 'export', object_type: 'case', object_id: c.case_id, purpose, revealed: reveal })
  const b = await caseBundle(deps, c)
  const claims = await loadClaims(deps.app.store, b.alerts.map((a) => a.alert), deps.app.kb())
  return buildEvidencePack({
    case: { ...c, institution_name: deps.app.kb().institutions.get(c.subject.fixmedins_code)?.name ?? null },
    // The pack is the record: it carries every alert whole (its files are not response-schema bound).
    alerts: b.full as PackAlert[],
    claims,
    timeline: b.timeline,
    generated_at: new Date(deps.now()).toISOString(),
    generated_by: { id: by.id, name: by.name, role: by.role },
    purpose,
    revealed: reveal,
  })
}

/**
 * Case evidence: the claim records behind a case as JSON, and the evidence
 * pack (zip). Both are written to the access log before anything is read, with
 * the caller's stated purpose; the log itself is readable by admins, each
 * seeing the entries about objects in their own scope.
 */
export const evidencePlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()

  r.get('/api/v1/cases/:case_id/evidence', {
    config: { roles: CASEWORK },
    schema: {
      tags: ['evidence'], summary: 'The visits, fee lines and settlements behind a case (logged as an evidence view)',
      params: z.object({ case_id: CaseId }),
      querystring: z.object({ purpose: Purpose.optional() }).strict(),
      response: { 200: z.object({ case: Case, alerts: z.array(AlertOrDegraded), ...Claims, revealed: z.boolean() }), ...errors },
    },
  }, async (req) => {
    const c = await visibleCase(deps, req, req.params.case_id)
    const reveal = reveals(req)
    await deps.access.record(who(req), { action: 'view', object_type: 'case', object_id: c.case_id, purpose: purposeOf(req), revealed: reveal })
    const b = await caseBundle(deps, c)
    const claims = await loadClaims(deps.app.store, b.alerts.map((a) => a.alert), deps.app.kb())
    return {
      case: caseOut(c, b.alerts),
      alerts: b.items,
      ...claims,
      visits: claims.visits.map((v) => ({ ...v, certno: personal(v.certno, reveal), psn_name: personal(v.psn_name, reveal), brdy: personal(v.brdy, reveal) })),
      revealed: reveal,
    }
  })

  r.get('/api/v1/cases/:case_id/evidence.zip', {
    config: { roles: CASEWORK },
    schema: {
      tags: ['evidence'], summary: 'Evidence pack: case.json, lines.xlsx, lines.csv, report.html, manifest.json with SHA-256 of each (logged as an export)',
      params: z.object({ case_id: CaseId }),
      querystring: z.object({ purpose: Purpose.optional().describe('Required here or in X-Purpose') }).strict(),
      produces: ['application/zip'],
      response: { 200: z.custom<Buffer>((v) => Buffer.isBuffer(v)).describe('application/zip'), ...errors },
    },
  }, async (req, reply) => {
    const c = await visibleCase(deps, req, req.params.case_id)
    const p = who(req)
    const purpose = purposeOf(req)
    if (!purpose) throw new FundwatchError('BAD_REQUEST', 'an export needs a purpose (?purpose= or X-Purpose)')
    const { zip, manifest } = await exportCasePack(deps, c, p, purpose, reveals(req))
    const packHash = manifest.files.map((x) => `${x.name}=${x.sha256}`).join(';')
    return reply
      .header('content-type', 'application/zip')
      .header('content-disposition', `attachment; filename="case-${c.case_id}.zip"`)
      .header('x-evidence-files', packHash)
      .header('cache-control', 'no-store')
      .send(Buffer.from(zip))
  })

  r.get('/api/v1/access-log', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['evidence'], summary: 'Who viewed or exported which evidence, when and why',
      querystring: z.object({
        limit: z.coerce.number().int().min(1).max(500).default(100), cursor: z.string().max(200).optional(),
        object_id: z.string().max(64).optional(), user_id: z.string().max(40).optional(),
      }).strict(),
      response: { 200: z.object({ entries: z.array(AccessEntry), next: z.string().optional() }), ...errors },
    },
  }, async (req) => {
    // Scoped like the objects themselves: an entry shows only if the caller can see what it is about.
    const p = who(req)
    return deps.access.list({ ...req.query, scope: { alerts: scopeSql(p, { admdvs: 'admdvs', fixmedins_code: 'fixmedins_code' }), cases: deps.cases.scopeSql(p) } })
  })
}
