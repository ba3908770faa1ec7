import { z } from 'zod'
import { defineDetector, type DetectContext, type Finding } from '../../src/detect/types.ts'
import type { FeeLineState, PersonState } from '../../src/state/types.ts'
import { DAY_MS, cnDate, cnDayNumber } from '../../src/util/time.ts'
import { KB_MEASURES, NO_FINDINGS, REGULATION, activeLine, fromFen, lineEvidence, text, toFen, uploadedLines } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  max_sessions_per_week: z.number().int().min(1).max(14).default(3)
    .describe('Haemodialysis sessions per natural week (Monday–Sunday, China days); a session is one institution on one day').meta({ description_zh: '每个自然周(周一至周日，北京时间)的血液透析次数上限；一次 = 一个机构一天' }),
  max_sessions_per_day: z.number().int().min(1).max(4).default(1).describe('Sessions per China day (at different institutions)').meta({ description_zh: '每个自然日的透析次数上限(在不同机构)' }),
}).strict()

interface Session { day: number; fixmedins_code: string; lines: FeeLineState[]; fen: number }

export default defineDetector({
  kind: 'stream',
  id: 'dialysis-frequency',
  version: '1.0.0',
  title: text('血液透析超频次', 'Dialysis above the weekly norm'),
  pattern: text('血液透析超频次', 'Dialysis above the weekly norm'),
  description: text(
    '参保人一个自然周内血液透析次数超过常规(默认3次)，或同一天在多家机构透析。',
    'More haemodialysis sessions in a natural week than the norm (3 by default), or sessions at several institutions on one day.',
  ),
  stages: ['pre', 'in'],
  scenarios: ['chronic', 'outpatient', 'inpatient'],
  result: 'suspicious',
  severity: 'medium',
  basis: text(
    `${REGULATION}第十五条(不得过度诊疗)、第三十八条第(二)项、第四十条(虚构医药服务项目)。《血液净化标准操作规程》(维持性血液透析通常每周2–3次)。${KB_MEASURES}血液透析类规则。`,
    `${REGULATION} art. 15 (no over-treatment), art. 38(2), art. 40 (fictitious services); the blood-purification standard operating procedures (maintenance haemodialysis 2–3 times a week); the dialysis rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('period', 'label', 'sessions', 'threshold', 'session_list', 'day', 'fixmedins_code', 'amount', 'lines', 'feedetl_sn', 'med_list_codg', 'fee_ocur_time', 'cnt', 'pric', 'bilg_dr_codg', 'bilg_dept_codg', 'amount_basis'),
  reactsTo: ['fee.uploaded'],
  lookbackDays: () => 8,
  detect(ctx, p) {
    const uploaded = uploadedLines(ctx)
    const visit = ctx.visit
    const person = ctx.person
    if (uploaded === undefined || visit === undefined || person === undefined) return NO_FINDINGS
    let weeks: Set<number> | undefined
    let days: Set<number> | undefined
    for (const u of uploaded) {
      const l = activeLine(visit, u.feedetl_sn)
      if (l === undefined || ctx.kb.catalog.get(l.med_list_codg)?.dialysis !== true) continue
      const d = cnDayNumber(l.fee_ocur_time)
      ;(weeks ??= new Set()).add(mondayOf(d))
      ;(days ??= new Set()).add(d)
    }
    if (weeks === undefined || days === undefined) return NO_FINDINGS
    let findings: Finding[] | undefined
    for (const monday of weeks) {
      const sessions = sessionsIn(ctx, person, monday, monday + 6)
      if (sessions.length > p.max_sessions_per_week) (findings ??= []).push(finding(person, sessions, p.max_sessions_per_week, 'week', cnDate(monday * DAY_MS)))
      for (const d of days) {
        if (mondayOf(d) !== monday) continue
        const today = sessions.filter((s) => s.day === d)
        if (today.length > p.max_sessions_per_day) (findings ??= []).push(finding(person, today, p.max_sessions_per_day, 'day', cnDate(d * DAY_MS)))
      }
    }
    return findings ?? NO_FINDINGS
  },
})

/** Day number of the Monday of the week (1970-01-01, day 0, was a Thursday). */
function mondayOf(day: number): number {
  return day - ((day + 3) % 7)
}

function sessionsIn(ctx: DetectContext, person: PersonState, first: number, last: number): Session[] {
  const from = first * DAY_MS - 8 * 3600_000
  const byKey = new Map<string, Session>()
  for (const v of person.visits.values()) {
    if (v.endtime !== undefined && v.endtime < from) continue
    for (const l of v.lines.values()) {
      if (l.reversed) continue
      const d = cnDayNumber(l.fee_ocur_time)
      if (d < first || d > last || ctx.kb.catalog.get(l.med_list_codg)?.dialysis !== true) continue
      const k = `${v.fixmedins_code}@${d}`
      let s = byKey.get(k)
      if (s === undefined) byKey.set(k, (s = { day: d, fixmedins_code: v.fixmedins_code, lines: [], fen: 0 }))
      s.lines.push(l)
      s.fen += toFen(l.amount)
    }
  }
  return [...byKey.values()].sort((a, b) => a.day - b.day || a.lines[0]!.fee_ocur_time - b.lines[0]!.fee_ocur_time || (a.fixmedins_code < b.fixmedins_code ? -1 : 1))
}

function finding(person: PersonState, sessions: Session[], max: number, period: 'week' | 'day', label: string): Finding {
  // Sessions beyond the norm, in time order, are the excess.
  let fen = 0
  for (const s of sessions.slice(max)) fen += s.fen
  const lines = sessions.flatMap((s) => s.lines)
  const last = sessions[sessions.length - 1]!
  return {
    key: `${person.psn_no}/${period}/${label}`,
    subject: { fixmedins_code: last.fixmedins_code, psn_no: person.psn_no },
    refs: { mdtrt_ids: [...new Set(lines.map((l) => l.mdtrt_id))], feedetl_sns: lines.map((l) => l.feedetl_sn), event_ids: [...new Set(lines.map((l) => l.event_id))] },
    amount_fen: fen,
    message: text(
      period === 'week' ? `${label} 起的一周内血液透析 ${sessions.length} 次，超过 ${max} 次` : `${label} 当日在 ${sessions.length} 家机构血液透析`,
      period === 'week' ? `${sessions.length} haemodialysis sessions in the week from ${label}, above ${max}` : `Haemodialysis at ${sessions.length} institutions on ${label}`,
    ),
    evidence: {
      period, label, sessions: sessions.length, threshold: max,
      session_list: sessions.map((s) => ({ day: cnDate(s.day * DAY_MS), fixmedins_code: s.fixmedins_code, amount: fromFen(s.fen), lines: s.lines.map(lineEvidence) })),
      amount_basis: 'sessions beyond the threshold, in time order',
    },
    notice: {
      message: text(
        period === 'week' ? `本周血液透析 ${sessions.length} 次(含其他机构)，超过 ${max} 次` : `当日已在 ${sessions.length} 家机构血液透析`,
        period === 'week' ? `${sessions.length} haemodialysis sessions this week (all institutions), above ${max}` : `Haemodialysis at ${sessions.length} institutions on the same day`,
      ),
      evidence: { period, sessions: sessions.length, threshold: max },
    },
  }
}
