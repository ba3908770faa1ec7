import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AnyEvent, EventOf } from '../schemas/index.ts'
import { buildServer } from '../src/api/server.ts'
import { createApp } from '../src/app.ts'
import { Users } from '../src/auth/users.ts'
import { configFromEnv } from '../src/config.ts'
import { createGenerator } from '../src/generator/generate.ts'
import { KnowledgeBase } from '../src/kb/knowledge-base.ts'
import { writeKnowledgeBase } from '../src/kb/loader.ts'
import { sampleKnowledgeBase } from '../src/kb/sample.ts'
import { createLogger } from '../src/log.ts'
import { Metrics } from '../src/metrics.ts'
import { generatorSource } from '../src/pipeline/sources.ts'
import { DAY_MS, cnIso } from '../src/util/time.ts'
import type { Figure } from './common.ts'
import { quantile } from './kafka.ts'

/** National China time (yyyy-MM-dd HH:mm:ss) of an RFC 3339 time. */
const cnText = (iso: string) => cnIso(Date.parse(iso)).slice(0, 19).replace('T', ' ')

/**
 * A generated draft (visit.opened, its visit.updated, fee.uploaded of one
 * visit) as the 3101 / 3102 request an HIS sends for it: the visit as it
 * stands as the current encounter, each line as an order whose rx_id is the
 * line's feedetl_sn.
 */
function analysisRequest(infno: '3101' | '3102', draft: AnyEvent[]): Record<string, unknown> {
  const open = draft[0] as EventOf<'visit.opened'>
  const changes = draft.flatMap((e) => (e.event_type === 'visit.updated' ? [e.payload] : []))
  const v = Object.assign({}, open.payload, ...changes) as EventOf<'visit.opened'>['payload']
  const lines = draft.flatMap((e) => (e.event_type === 'fee.uploaded' ? e.payload.lines : []))
  const inst = open.source.fixmedins_code
  return {
    infno, msgid: `${inst}${cnText(open.event_time).replace(/\D/g, '')}${infno === '3101' ? '0001' : '0002'}`, mdtrtarea_admvs: v.insuplc_admdvs, insuplc_admdvs: v.insuplc_admdvs,
    recer_sys_code: 'FSI_LOCAL', infver: 'V1.0', opter_type: '1', opter: v.atddr_no, opter_name: 'bench', inf_time: cnText(draft.at(-1)!.event_time), fixmedins_code: inst, fixmedins_name: 'bench',
    input: {
      data: {
        syscode: 'BENCH', rule_ids: [], task_id: v.mdtrt_id, trig_scen: infno === '3101' ? '2' : '7',
        patient_dtos: [{
          patn_id: v.psn_no, patn_name: '-', gend: v.psn?.gend ?? '9', brdy: v.psn?.brdy ?? '1970-01-01', poolarea: v.insuplc_admdvs, curr_mdtrt_id: v.mdtrt_id,
          fsi_encounter_dtos: [{
            mdtrt_id: v.mdtrt_id, medins_id: inst, adm_date: cnText(v.begntime), fsi_diagnose_dtos: v.diagnoses.map((d, i) => ({ maindise_flag: d.maindiag_flag, dias_srt_no: String(i + 1), dise_codg: d.diag_code, dise_name: d.diag_name })),
            dr_codg: v.atddr_no, adm_dept_codg: v.adm_dept_codg, med_type: v.med_type, insutype: v.insutype,
            fsi_order_dtos: lines.map((l) => ({
              rx_id: l.feedetl_sn, chrg_type: l.med_chrgitm_type, hilist_code: l.med_list_codg, hosplist_code: l.medins_list_codg, cnt: l.cnt, pric: l.pric, sumamt: l.det_item_fee_sumamt,
              drord_begn_date: cnText(l.fee_ocur_time), drord_dept_codg: l.bilg_dept_codg, drord_dr_codg: l.bilg_dr_codg, curr_drord_flag: '1',
              // What 2204 carries and an order cannot print, through the extension the HIS may send.
              ...(l.prd_days === undefined ? {} : { prd_days: l.prd_days }), ...(l.hours === undefined ? {} : { expContent: { hours: l.hours } }),
            })),
          }],
        }],
      },
    },
  }
}

const PERSONS = Number(process.env.BENCH_PRECHECK_PERSONS ?? 5000)
const DAYS = 40
const DRAFTS = Number(process.env.BENCH_PRECHECK_DRAFTS ?? 500)

/**
 * 事前提醒's budget (DOMAIN.md): tens of milliseconds, synchronous; issue 13's
 * goal is p99 < 50 ms for the pre-check and the national 3101 / 3102. A store
 * holds 35 days of a generated population's claims; then the visits of the
 * last 5 days are sent, one by one, as draft claims (visit.opened, its
 * visit.updated with the diagnoses, and fee lines, unsettled) to POST /api/v1/precheck through the real API as a
 * hospital HIS would — each answer loads the person's history from ClickHouse.
 */
export async function benchPrecheck(): Promise<{ figures: Figure[]; raw: Record<string, number> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fw-bench-precheck-'))
  const start = Date.now() - (DAYS + 1) * DAY_MS
  const gen = createGenerator({ seed: 5150, persons: PERSONS, days: DAYS, startTime: start, fraudRate: 0.03, kb: sampleKnowledgeBase() })
  const events = [...gen.events()]
  const cut = start + (DAYS - 5) * DAY_MS
  const history = events.filter((e) => Date.parse(e.event_time) < cut)
  // Drafts: per visit of the last days, its opening, its diagnoses (visit.updated) and fee lines, before any settlement.
  const byVisit = new Map<string, AnyEvent[]>()
  for (const e of events) {
    if (Date.parse(e.event_time) < cut || (e.event_type !== 'visit.opened' && e.event_type !== 'visit.updated' && e.event_type !== 'fee.uploaded')) continue
    const id = e.payload.mdtrt_id
    byVisit.set(id, [...(byVisit.get(id) ?? []), e])
  }
  const drafts = [...byVisit.values()].filter((d) => d[0]!.event_type === 'visit.opened' && d.some((e) => e.event_type === 'fee.uploaded')).slice(0, DRAFTS)
  const kbDir = join(dataDir, 'kb')
  await writeKnowledgeBase(kbDir, gen.kb, 'jsonl')
  const config = configFromEnv({ FUNDWATCH_KB: kbDir, FUNDWATCH_DATA_DIR: join(dataDir, 'chdb'), FUNDWATCH_DB: 'bench_precheck', CLICKHOUSE_URL: '' })
  const app = await createApp(config, { log: createLogger({ level: 'warn' }), metrics: new Metrics() })
  try {
    app.setKb(new KnowledgeBase(gen.kb, 'generated'))
    const t0 = performance.now()
    await app.pipeline().run(generatorSource(history, { batchSize: 5000 }), new AbortController().signal)
    console.log(`precheck: ${history.length.toLocaleString('en-US')} events of history stored in ${((performance.now() - t0) / 1000).toFixed(1)} s (setup); ${drafts.length} drafts`)
    // Each hospital's HIS has its own token, naming its institution (a precheck token speaks for those only).
    const tokens = new Map<string, string>()
    for (const code of new Set(drafts.map((d) => d[0]!.source.fixmedins_code))) {
      tokens.set(code, (await new Users(app.store).create({ name: `bench HIS ${code}`, role: 'precheck', fixmedins_codes: [code] }, 'cli')).token)
    }
    const server = await buildServer(app, { webDir: false, rateLimitPerMinute: 1_000_000 })
    try {
      const send = (d: AnyEvent[]) => server.inject({ method: 'POST', url: '/api/v1/precheck', headers: { authorization: `Bearer ${tokens.get(d[0]!.source.fixmedins_code)}` }, payload: { events: d } })
      for (const d of drafts.slice(0, 20)) await send(d) // warm-up
      // What the store read for them, from chDB's counters: work per pre-check, which a busy machine does not change as it changes time.
      const counters = async () => new Map((await app.store.query<{ event: string; value: string }>(
        `SELECT event, toString(value) AS value FROM system.events WHERE event IN ('SelectedRows', 'SelectedMarks', 'SelectQuery')`)).map((r) => [r.event, Number(r.value)]))
      const before = await counters()
      const cpu0 = process.cpuUsage()
      const ms: number[] = []
      let findings = 0
      for (const d of drafts) {
        const t = performance.now()
        const res = await send(d)
        ms.push(performance.now() - t)
        if (res.statusCode !== 200) throw new Error(`precheck answered ${res.statusCode}: ${res.body.slice(0, 300)}`)
        findings += (res.json() as { findings: unknown[] }).findings.length
      }
      const cpu = process.cpuUsage(cpu0)
      const cpuMs = Math.round(((cpu.user + cpu.system) / 1000 / drafts.length) * 10) / 10
      const after = await counters()
      const perDraft = (k: string) => Math.round(((after.get(k) ?? 0) - (before.get(k) ?? 0)) / drafts.length)
      ms.sort((a, b) => a - b)
      const p = (q: number) => Math.round(quantile(ms, q) * 10) / 10
      // The same drafts as the national 3101 / 3102 an HIS sends (docs/national-analysis.md): the same pre-check behind another envelope.
      const national: Record<string, { p50: number; p95: number; p99: number; max: number; results: number }> = {}
      for (const infno of ['3101', '3102'] as const) {
        const call = (d: AnyEvent[]) => server.inject({ method: 'POST', url: `/api/v1/national/${infno}`, headers: { authorization: `Bearer ${tokens.get(d[0]!.source.fixmedins_code)}` }, payload: analysisRequest(infno, d) })
        for (const d of drafts.slice(0, 20)) await call(d) // warm-up
        const nms: number[] = []
        let results = 0
        for (const d of drafts) {
          const t = performance.now()
          const res = await call(d)
          nms.push(performance.now() - t)
          const a = res.json() as { infcode: number; err_msg: string; output?: { result: unknown[] } }
          if (res.statusCode !== 200 || a.infcode !== 0) throw new Error(`national ${infno} answered ${res.statusCode} infcode ${a.infcode}: ${a.err_msg.slice(0, 300)}`)
          results += a.output!.result.length
        }
        nms.sort((a, b) => a - b)
        const q = (x: number) => Math.round(quantile(nms, x) * 10) / 10
        national[infno] = { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: q(1), results }
      }
      const n1 = national['3101']!
      const n2 = national['3102']!
      const figures: Figure[] = [
        { name: 'drafts checked (history: 35 days stored)', value: drafts.length, unit: 'drafts' },
        { name: 'drafts with findings', value: findings, unit: 'findings' },
        { name: 'pre-check latency p50', value: p(0.5), unit: 'ms' },
        { name: 'pre-check latency p99', value: p(0.99), unit: 'ms', goal: '< 50 (issue 13)', met: p(0.99) < 50 },
        { name: 'pre-check: CPU per draft (every thread of the process)', value: cpuMs, unit: 'ms' },
        { name: 'pre-check: rows the store read, per draft', value: perDraft('SelectedRows'), unit: `rows (${perDraft('SelectedMarks')} granules, ${perDraft('SelectQuery')} queries)` },
        { name: 'national 3101 (事前) latency p50', value: n1.p50, unit: 'ms' },
        { name: 'national 3101 (事前) latency p99', value: n1.p99, unit: 'ms', goal: '< 50 (issue 13)', met: n1.p99 < 50 },
        { name: 'national 3102 (事中) latency p50', value: n2.p50, unit: 'ms' },
        { name: 'national 3102 (事中) latency p99', value: n2.p99, unit: 'ms', goal: '< 50 (issue 13)', met: n2.p99 < 50 },
      ]
      return {
        figures,
        raw: {
          drafts: drafts.length, findings, cpuMsPerDraft: cpuMs, rowsReadPerDraft: perDraft('SelectedRows'), granulesReadPerDraft: perDraft('SelectedMarks'), queriesPerDraft: perDraft('SelectQuery'), p50: p(0.5), p95: p(0.95), p99: p(0.99), max: p(1),
          national3101_p50: n1.p50, national3101_p95: n1.p95, national3101_p99: n1.p99, national3101_max: n1.max, national3101_results: n1.results,
          national3102_p50: n2.p50, national3102_p95: n2.p95, national3102_p99: n2.p99, national3102_max: n2.max, national3102_results: n2.results,
        },
      }
    } finally {
      await server.close()
    }
  } finally {
    await app.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}
