import { z } from 'zod'
import { defineDetector, type DetectContext, type Finding } from '../../src/detect/types.ts'
import type { FeeLineState, PersonState, VisitState } from '../../src/state/types.ts'
import { DAY_MS, cnDate, cnDayNumber, cnIso } from '../../src/util/time.ts'
import { INPATIENT_MED_TYPES, KB_MEASURES, NO_FINDINGS, REGULATION, activeLine, excessShare, isBedLine, lineEvidence, round2, stayDays, text, toFen, uploadedLines, visitEventIds } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  check_outside_stay: z.boolean().default(true).describe('Lines dated before the visit began or after it ended').meta({ description_zh: '费用时间早于就诊开始或晚于就诊结束的明细' }),
  check_after_death: z.boolean().default(true).describe('Lines dated after the person\'s death (KB persons death_date, or a discharge by death)').meta({ description_zh: '费用时间晚于参保人死亡的明细(知识库死亡日期，或死亡出院记录)' }),
  tolerance_minutes: z.number().int().min(0).max(1440).default(120)
    .describe('Slack around admission, discharge and death times (HIS clocks, orders entered just before admission)').meta({ description_zh: '入院、出院和死亡时间前后的容差(HIS 时钟误差、入院前录入的医嘱)' }),
  check_hours_per_day: z.boolean().default(true).describe('More hours of an hour-billed item (catalog time_unit hour) in one China day than the day has').meta({ description_zh: '按小时计费的项目(目录 time_unit 为小时)一个自然日计费小时数超过一天的小时数' }),
  max_hours_per_day: z.number().positive().max(48).default(24).describe('Hours of one hour-billed item a visit may bill per China day').meta({ description_zh: '一次就诊每个自然日可计费的某一按小时项目的小时数' }),
  check_bed_days: z.boolean().default(true).describe('More bed days (items the catalog classes 01 床位费; the line\'s med_chrgitm_type for items it does not know) than days in the stay').meta({ description_zh: '床位费(目录收费类别 01；目录中没有的项目按明细的收费类别)天数超过住院天数' }),
  count_discharge_day: z.boolean().default(false)
    .describe('Bill the discharge day as a bed day too (default: 算入不算出, admission day counted, discharge day not)').meta({ description_zh: '出院当日也计床日(默认：算入不算出，入院日计、出院日不计)' }),
  check_outpatient_during_stay: z.boolean().default(true)
    .describe('Outpatient or pharmacy lines dated while the person is inpatient at another institution').meta({ description_zh: '参保人在其他机构住院期间的门诊或药店明细' }),
  check_overlapping_stays: z.boolean().default(true).describe('Two inpatient stays at different institutions overlapping in time').meta({ description_zh: '不同机构的两次住院在时间上重叠' }),
  overlap_tolerance_hours: z.number().min(0).max(72).default(12).describe('Overlap of two stays accepted as a transfer').meta({ description_zh: '两次住院可视为转院的重叠时长(小时)' }),
  inpatient_med_types: z.array(z.string()).default([...INPATIENT_MED_TYPES]).describe('医疗类别 codes that count as an inpatient stay').meta({ description_zh: '计为住院的医疗类别代码' }),
}).strict()
type Params = z.infer<typeof params>

export default defineDetector({
  kind: 'stream',
  id: 'phantom-service',
  version: '3.0.0',
  title: text('虚构医药服务', 'Phantom services'),
  pattern: text('虚构服务', 'Phantom services'),
  description: text(
    '入院前、出院后或死亡后发生的费用；按小时计费项目单日超过24小时；床位天数超过住院天数；在他院住院期间发生门诊/药店费用；两家机构住院时间重叠。',
    'Lines before admission, after discharge or after death; more than 24 hours a day of an hour-billed item; more bed days than days in the stay; outpatient lines while inpatient elsewhere; overlapping stays at two institutions.',
  ),
  stages: ['pre', 'in'],
  scenarios: ['outpatient', 'inpatient', 'pharmacy', 'chronic', 'maternity', 'remote'],
  result: 'suspicious',
  severity: 'high',
  basis: text(
    `${REGULATION}第四十条：定点医药机构通过虚构医药服务项目等方式骗取医疗保障基金支出的，责令退回，处骗取金额2倍以上5倍以下罚款。${KB_MEASURES}"虚构服务""虚记费用"类规则。`,
    `${REGULATION} art. 40: defrauding the fund by fictitious services is recovered and fined 2–5 times the amount; the phantom-service rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('rule', 'reasons', 'tolerance_minutes', 'begntime', 'endtime', 'lines_flagged', 'lines', 'feedetl_sn', 'med_list_codg', 'fee_ocur_time', 'cnt', 'pric', 'amount', 'bilg_dr_codg', 'bilg_dept_codg', 'death', 'at', 'source', 'date', 'prd_days', 'bed_days_billed', 'days_in_stay', 'stay_closed', 'count_discharge_day', 'as_of', 'stay', 'mdtrt_id', 'fixmedins_code', 'day', 'hours', 'max_hours_per_day', 'overlap_hours', 'overlap_tolerance_hours', 'overlap_from', 'overlap_to', 'stays', 'end_from', 'later_stay_lines_in_overlap'),
  reactsTo: ['fee.uploaded', 'visit.opened', 'visit.closed'],
  lookbackDays: () => 2,
  detect(ctx, p) {
    const visit = ctx.visit
    const person = ctx.person
    if (visit === undefined || person === undefined) return NO_FINDINGS
    const out: Finding[] = []
    const tol = p.tolerance_minutes * 60_000
    const inpatient = p.inpatient_med_types.includes(visit.med_type)
    const uploaded = uploadedLines(ctx)

    if (uploaded !== undefined) {
      const death = (p.check_after_death ? deathInstant(ctx, person) : undefined)
      let hourKeys: Set<string> | undefined
      let beds = false
      let any = false
      for (const u of uploaded) {
        const l = activeLine(visit, u.feedetl_sn)
        if (l === undefined) continue
        any = true
        if (p.check_hours_per_day && ctx.kb.catalog.get(l.med_list_codg)?.time_unit === 'hour') (hourKeys ??= new Set()).add(`${l.med_list_codg}@${cnDayNumber(l.fee_ocur_time)}`)
        if (isBedLine(ctx.kb, l)) beds = true
      }
      // Dated outside the stay: when a line of this upload is, the visit's one finding listing all such lines.
      if (timingFlags(visit, uploadedActive(visit, uploaded), death, tol, p)) pushTiming(visit, death, tol, p, out)
      if (hourKeys !== undefined) hoursPerDay(ctx, visit, hourKeys, p, out)
      if (beds && p.check_bed_days && inpatient) bedDays(ctx, visit, p, out, (l) => timingReasons(visit, l, death, tol, p).length > 0)
      if (!inpatient && p.check_outpatient_during_stay) outpatientDuringStay(person, visit, tol, p, out)
      if (inpatient && p.check_overlapping_stays && any) overlaps(person, visit, p, out)
    } else if (ctx.event.event_type === 'visit.closed') {
      const death = (p.check_after_death ? deathInstant(ctx, person) : undefined)
      // Lines uploaded before the discharge was known, dated after it.
      if (p.check_outside_stay || death !== undefined) pushTiming(visit, death, tol, p, out)
      // A death ends every other visit too: one with a line after it is judged again, whole.
      if (visit.dscg_way === '5' && death !== undefined) {
        for (const v of person.visits.values()) {
          if (v !== visit && someLine(v, (l) => l.fee_ocur_time > death.at + tol)) pushTiming(v, death, tol, p, out)
        }
      }
      if (inpatient && p.check_bed_days) bedDays(ctx, visit, p, out, (l) => timingReasons(visit, l, death, tol, p).length > 0)
      if (inpatient && p.check_overlapping_stays) overlaps(person, visit, p, out)
    } else if (ctx.event.event_type === 'visit.opened') {
      if (inpatient && p.check_overlapping_stays) overlaps(person, visit, p, out)
    }
    return out.length === 0 ? NO_FINDINGS : out
  },
})

interface Death { at: number; source: 'kb_death_date' | 'dscg_way_5'; mdtrt_id?: string; date: string }

/** The earliest known death: the KB date (end of that China day) or a discharge by death. */
function deathInstant(ctx: DetectContext, person: PersonState): Death | undefined {
  let d: Death | undefined
  const kbDate = ctx.kb.persons.get(person.psn_no)?.death_date
  if (kbDate !== undefined) {
    // Any time on the day of death is plausible; the day after is not.
    const endOfDay = Date.parse(`${kbDate}T00:00:00+08:00`) + DAY_MS - 1
    d = { at: endOfDay, source: 'kb_death_date', date: kbDate }
  }
  for (const v of person.visits.values()) {
    if (v.dscg_way === '5' && v.endtime !== undefined && (d === undefined || v.endtime < d.at)) {
      d = { at: v.endtime, source: 'dscg_way_5', mdtrt_id: v.mdtrt_id, date: cnDate(v.endtime) }
    }
  }
  return d
}

/** Why a line is dated where the person cannot have been, in a fixed order (the gravest first). */
const TIMING_REASONS = ['after_death', 'after_discharge', 'before_admission'] as const
type TimingReason = (typeof TIMING_REASONS)[number]

function timingReasons(visit: VisitState, l: FeeLineState, death: Death | undefined, tol: number, p: Params): TimingReason[] {
  const reasons: TimingReason[] = []
  if (death !== undefined && l.fee_ocur_time > death.at + tol) reasons.push('after_death')
  if (p.check_outside_stay && visit.endtime !== undefined && l.fee_ocur_time > visit.endtime + tol) reasons.push('after_discharge')
  if (p.check_outside_stay && visit.opened && visit.begntime > 0 && l.fee_ocur_time < visit.begntime - tol) reasons.push('before_admission')
  return reasons
}

function uploadedActive(visit: VisitState, uploaded: readonly { feedetl_sn: string }[]): FeeLineState[] {
  const out: FeeLineState[] = []
  for (const u of uploaded) {
    const l = activeLine(visit, u.feedetl_sn)
    if (l !== undefined) out.push(l)
  }
  return out
}

function timingFlags(visit: VisitState, lines: Iterable<FeeLineState>, death: Death | undefined, tol: number, p: Params): boolean {
  for (const l of lines) if (!l.reversed && timingReasons(visit, l, death, tol, p).length > 0) return true
  return false
}

function someLine(v: VisitState, pred: (l: FeeLineState) => boolean): boolean {
  for (const l of v.lines.values()) if (!l.reversed && pred(l)) return true
  return false
}

/**
 * Lines dated before admission, after discharge or after death: one fact about
 * the visit — services billed when the person was not there — so one finding
 * per visit (`mdtrt/timing`), whatever the items, reasons and number of lines,
 * listing every such standing line of the visit (with its reasons) and summing
 * their amounts. The key does not depend on which reasons apply, so a death or
 * discharge learnt later revises the same finding instead of adding another.
 */
function pushTiming(visit: VisitState, death: Death | undefined, tol: number, p: Params, out: Finding[]): void {
  const flagged: { line: FeeLineState; reasons: TimingReason[] }[] = []
  for (const l of visit.lines.values()) {
    if (l.reversed) continue
    const reasons = timingReasons(visit, l, death, tol, p)
    if (reasons.length > 0) flagged.push({ line: l, reasons })
  }
  if (flagged.length === 0) return
  flagged.sort((a, b) => a.line.fee_ocur_time - b.line.fee_ocur_time || (a.line.feedetl_sn < b.line.feedetl_sn ? -1 : a.line.feedetl_sn > b.line.feedetl_sn ? 1 : 0))
  const all = new Set<TimingReason>()
  let fen = 0
  for (const f of flagged) {
    for (const r of f.reasons) all.add(r)
    fen += toFen(f.line.amount)
  }
  const reasons = TIMING_REASONS.filter((r) => all.has(r))
  const zh: string[] = []
  const en: string[] = []
  for (const r of reasons) {
    if (r === 'after_death') {
      zh.push(`晚于死亡日期 ${death!.date}`)
      en.push(`after the person's death on ${death!.date}`)
    } else if (r === 'after_discharge') {
      zh.push(`晚于出院/结束 ${cnIso(visit.endtime!)}`)
      en.push(`after the visit ended at ${cnIso(visit.endtime!)}`)
    } else {
      zh.push(`早于就诊开始 ${cnIso(visit.begntime)}`)
      en.push(`before the visit began at ${cnIso(visit.begntime)}`)
    }
  }
  const n = flagged.length
  const first = flagged[0]!.line
  const last = flagged[n - 1]!.line
  const message = n === 1
    ? text(`费用发生于 ${cnIso(first.fee_ocur_time)}，${zh.join('，')}`, `Line dated ${cnIso(first.fee_ocur_time)}, ${en.join(', ')}`)
    : text(`${n} 条明细发生于 ${cnIso(first.fee_ocur_time)} 至 ${cnIso(last.fee_ocur_time)}，${zh.join('，')}`,
      `${n} lines dated ${cnIso(first.fee_ocur_time)} to ${cnIso(last.fee_ocur_time)}, ${en.join(', ')}`)
  const doctors = new Set(flagged.map((f) => f.line.bilg_dr_codg))
  const f: Finding = {
    key: `${visit.mdtrt_id}/timing`,
    subject: { fixmedins_code: visit.fixmedins_code, psn_no: visit.psn_no, mdtrt_id: visit.mdtrt_id, ...(doctors.size === 1 ? { doctor: first.bilg_dr_codg } : {}) },
    refs: {
      mdtrt_ids: [visit.mdtrt_id], feedetl_sns: flagged.map((x) => x.line.feedetl_sn),
      event_ids: [...new Set([...visitEventIds(visit), ...flagged.map((x) => x.line.event_id)])],
    },
    amount_fen: fen,
    message,
    evidence: {
      rule: 'timing', reasons, tolerance_minutes: p.tolerance_minutes, begntime: visit.begntime > 0 ? cnIso(visit.begntime) : undefined,
      endtime: visit.endtime === undefined ? undefined : cnIso(visit.endtime), ...(death === undefined || !all.has('after_death') ? {} : { death }),
      lines_flagged: n, lines: flagged.map((x) => ({ ...lineEvidence(x.line), reasons: x.reasons })),
    },
  }
  if (all.has('after_death')) {
    f.notice = { message: text('费用发生时间晚于参保人登记的死亡时间', 'Lines dated after the insured person is recorded as deceased'), evidence: { rule: 'timing', reasons } }
  }
  out.push(f)
}

function hoursPerDay(ctx: DetectContext, visit: VisitState, keys: Set<string>, p: Params, out: Finding[]): void {
  const groups = new Map<string, FeeLineState[]>()
  for (const l of visit.lines.values()) {
    if (l.reversed) continue
    const k = `${l.med_list_codg}@${cnDayNumber(l.fee_ocur_time)}`
    if (!keys.has(k)) continue
    const a = groups.get(k)
    if (a === undefined) groups.set(k, [l])
    else a.push(l)
  }
  for (const lines of groups.values()) {
    let hours = 0
    let amount = 0
    for (const l of lines) {
      hours += l.hours ?? l.cnt
      amount += l.amount
    }
    if (hours <= p.max_hours_per_day) continue
    const first = lines[0]!
    const day = cnDate(first.fee_ocur_time)
    const name = ctx.kb.catalog.get(first.med_list_codg)?.name ?? first.med_list_codg
    out.push({
      key: `${visit.mdtrt_id}/${first.med_list_codg}/${day}/hours`,
      subject: { fixmedins_code: visit.fixmedins_code, psn_no: visit.psn_no, mdtrt_id: visit.mdtrt_id },
      refs: { mdtrt_ids: [visit.mdtrt_id], feedetl_sns: lines.map((l) => l.feedetl_sn), event_ids: [...new Set(lines.map((l) => l.event_id))] },
      amount_fen: toFen(excessShare(amount, hours, p.max_hours_per_day)),
      message: text(`${name}(${first.med_list_codg})${day} 计费 ${hours} 小时，超过 ${p.max_hours_per_day} 小时`,
        `${first.med_list_codg} (${name}): ${hours} hours billed on ${day}, more than ${p.max_hours_per_day}`),
      evidence: { rule: 'hours_per_day', day, hours, max_hours_per_day: p.max_hours_per_day, lines: lines.map(lineEvidence) },
    })
  }
}

/**
 * Bed days billed beyond the days of the stay. A bed line dated outside the
 * stay (or after death) is the timing finding's fact, listed and counted
 * there: counting it here too would make one fact two findings and count its
 * amount twice.
 */
function bedDays(ctx: DetectContext, visit: VisitState, p: Params, out: Finding[], outside: (l: FeeLineState) => boolean): void {
  if (!visit.opened || visit.begntime === 0) return
  const lines: FeeLineState[] = []
  let billed = 0
  let fen = 0
  for (const l of visit.lines.values()) {
    if (l.reversed || !isBedLine(ctx.kb, l) || outside(l)) continue
    lines.push(l)
    billed += l.cnt
    fen += toFen(l.amount)
  }
  // While the stay is open, no more days can have been used than have begun.
  const allowed = visit.endtime !== undefined
    ? stayDays(visit.begntime, visit.endtime) + (p.count_discharge_day ? 1 : 0)
    : cnDayNumber(ctx.eventTime) - cnDayNumber(visit.begntime) + 1
  if (billed <= allowed) return
  const perDay = fen / 100 / billed
  out.push({
    key: `${visit.mdtrt_id}/bed-days`,
    subject: { fixmedins_code: visit.fixmedins_code, psn_no: visit.psn_no, mdtrt_id: visit.mdtrt_id },
    refs: { mdtrt_ids: [visit.mdtrt_id], feedetl_sns: lines.map((l) => l.feedetl_sn), event_ids: [...new Set([...visitEventIds(visit), ...lines.map((l) => l.event_id)])] },
    amount_fen: toFen((billed - allowed) * perDay),
    message: text(`床位费计 ${billed} 天，住院仅 ${allowed} 天`, `${billed} bed days billed for a stay of ${allowed} days`),
    evidence: {
      rule: 'bed_days', bed_days_billed: billed, days_in_stay: allowed, stay_closed: visit.endtime !== undefined, count_discharge_day: p.count_discharge_day,
      begntime: cnIso(visit.begntime), ...(visit.endtime === undefined ? { as_of: cnIso(ctx.eventTime) } : { endtime: cnIso(visit.endtime) }),
      lines: lines.map(lineEvidence),
    },
  })
}

function outpatientDuringStay(person: PersonState, visit: VisitState, tol: number, p: Params, out: Finding[]): void {
  for (const s of person.visits.values()) {
    if (s === visit || s.fixmedins_code === visit.fixmedins_code || !s.opened || !p.inpatient_med_types.includes(s.med_type)) continue
    const from = s.begntime + tol
    const to = s.endtime === undefined ? Infinity : s.endtime - tol
    if (to <= from) continue
    // The whole visit, not only this upload: the finding's amount is the visit's total inside the stay.
    const inside: FeeLineState[] = []
    let fen = 0
    for (const l of visit.lines.values()) {
      if (!l.reversed && l.fee_ocur_time > from && l.fee_ocur_time < to) {
        inside.push(l)
        fen += toFen(l.amount)
      }
    }
    if (inside.length === 0) continue
    out.push({
      key: `${visit.mdtrt_id}/during/${s.mdtrt_id}`,
      subject: { fixmedins_code: visit.fixmedins_code, psn_no: visit.psn_no, mdtrt_id: visit.mdtrt_id },
      refs: { mdtrt_ids: [visit.mdtrt_id, s.mdtrt_id], feedetl_sns: inside.map((l) => l.feedetl_sn), event_ids: [...new Set([...visitEventIds(s), ...inside.map((l) => l.event_id)])] },
      amount_fen: fen,
      message: text(`参保人在 ${s.fixmedins_code} 住院期间(${cnIso(s.begntime)} 起)于本机构发生门诊/购药费用 ${inside.length} 条`,
        `${inside.length} outpatient/pharmacy line(s) here while the person was inpatient at ${s.fixmedins_code} (since ${cnIso(s.begntime)})`),
      evidence: {
        rule: 'outpatient_during_stay', tolerance_minutes: p.tolerance_minutes,
        stay: { mdtrt_id: s.mdtrt_id, fixmedins_code: s.fixmedins_code, begntime: cnIso(s.begntime), endtime: s.endtime === undefined ? null : cnIso(s.endtime) },
        lines: inside.map(lineEvidence),
      },
      notice: { message: text('参保人此时正在其他机构住院', 'The insured person is an inpatient at another institution at this time'), evidence: { rule: 'outpatient_during_stay' } },
    })
  }
}

/** A stay's end as far as the facts go: its discharge, else its latest line (presence), else its admission. */
function effectiveEnd(v: VisitState): number {
  if (v.endtime !== undefined) return v.endtime
  let end = v.begntime
  for (const l of v.lines.values()) if (!l.reversed && l.fee_ocur_time > end) end = l.fee_ocur_time
  return end
}

function overlaps(person: PersonState, visit: VisitState, p: Params, out: Finding[]): void {
  if (!visit.opened || visit.begntime === 0) return
  const tol = p.overlap_tolerance_hours * 3600_000
  let end: number | undefined
  for (const s of person.visits.values()) {
    if (s === visit || s.fixmedins_code === visit.fixmedins_code || !s.opened || s.begntime === 0 || !p.inpatient_med_types.includes(s.med_type)) continue
    // Cheap bounds before any scan of lines.
    if (visit.endtime !== undefined && s.begntime >= visit.endtime) continue
    if (s.endtime !== undefined && s.endtime <= visit.begntime) continue
    end ??= effectiveEnd(visit)
    const sEnd = effectiveEnd(s)
    const from = Math.max(visit.begntime, s.begntime)
    const to = Math.min(end, sEnd)
    if (to - from <= tol) continue
    const [a, b] = visit.mdtrt_id < s.mdtrt_id ? [visit, s] : [s, visit]
    const later = visit.begntime >= s.begntime ? visit : s
    const inside: FeeLineState[] = []
    let fen = 0
    for (const l of later.lines.values()) {
      if (!l.reversed && l.fee_ocur_time >= from && l.fee_ocur_time <= to) {
        inside.push(l)
        fen += toFen(l.amount)
      }
    }
    const hours = round2((to - from) / 3600_000)
    out.push({
      key: `${a.mdtrt_id}~${b.mdtrt_id}`,
      subject: { fixmedins_code: later.fixmedins_code, psn_no: later.psn_no, mdtrt_id: later.mdtrt_id },
      refs: { mdtrt_ids: [a.mdtrt_id, b.mdtrt_id], feedetl_sns: inside.map((l) => l.feedetl_sn), event_ids: [...visitEventIds(a), ...visitEventIds(b)] },
      amount_fen: fen,
      message: text(`两家机构住院时间重叠 ${hours} 小时：${a.fixmedins_code}(${a.mdtrt_id}) 与 ${b.fixmedins_code}(${b.mdtrt_id})`,
        `Inpatient stays at two institutions overlap by ${hours} hours: ${a.fixmedins_code} (${a.mdtrt_id}) and ${b.fixmedins_code} (${b.mdtrt_id})`),
      evidence: {
        rule: 'overlapping_stays', overlap_hours: hours, overlap_tolerance_hours: p.overlap_tolerance_hours, overlap_from: cnIso(from), overlap_to: cnIso(to),
        stays: [a, b].map((v) => ({
          mdtrt_id: v.mdtrt_id, fixmedins_code: v.fixmedins_code, begntime: cnIso(v.begntime),
          endtime: v.endtime === undefined ? null : cnIso(v.endtime), end_from: v.endtime === undefined ? 'latest_line' : 'discharge',
        })),
        later_stay_lines_in_overlap: inside.length,
      },
      notice: { message: text('参保人在其他机构有时间重叠的住院记录', 'The insured person has an overlapping inpatient stay at another institution'), evidence: { rule: 'overlapping_stays' } },
    })
  }
}
