import { z } from 'zod'
import { defineDetector, type DetectContext, type Finding } from '../../src/detect/types.ts'
import type { PersonState, VisitState } from '../../src/state/types.ts'
import { DAY_MS, cnDate, cnIso } from '../../src/util/time.ts'
import { KB_MEASURES, NO_FINDINGS, REGULATION, activeSettlementIds, haversineKm, insurancePaid, insurancePaidFen, round2, text, visitEventIds } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  check_after_death: z.boolean().default(true)
    .describe('A visit begun after the person\'s death (KB persons death_date, or an earlier discharge by death)').meta({ description_zh: '参保人死亡后开始的就诊(知识库死亡日期，或更早的死亡出院记录)' }),
  check_travel: z.boolean().default(true).describe('Two visits at institutions too far apart for the time between them').meta({ description_zh: '两次就诊的机构相距太远，间隔时间内不可能往返' }),
  max_speed_kmh: z.number().positive().max(2000).default(400)
    .describe('Fastest plausible door-to-door travel (high-speed rail ≈ 250–300, flights with airport time ≈ 300–400)').meta({ description_zh: '最快的合理门到门速度(高铁约 250–300，含候机时间的航班约 300–400 公里/小时)' }),
  min_distance_km: z.number().min(0).default(50).describe('Institutions closer than this are never judged (clock skew, neighbouring sites)').meta({ description_zh: '距离小于此值的机构从不判定(时钟误差、相邻院区)' }),
  max_gap_hours: z.number().positive().max(72).default(24).describe('Visits further apart in time than this are not compared').meta({ description_zh: '时间间隔超过此值的两次就诊不作比较' }),
  tolerance_minutes: z.number().int().min(0).max(1440).default(60).describe('Slack on the death time for a visit begun right after a discharge by death').meta({ description_zh: '死亡出院后紧接着开始的就诊，其死亡时间的容差(分钟)' }),
}).strict()
type Params = z.infer<typeof params>

export default defineDetector({
  kind: 'stream',
  id: 'identity-misuse',
  version: '1.1.0',
  title: text('冒名就医', 'Identity misuse'),
  pattern: text('冒名就医', 'Identity misuse'),
  description: text(
    '参保人死亡后其医保凭证仍被使用；或同一参保人在相距过远的两家机构就诊，间隔时间不足以往返。',
    'A person\'s insurance credential used after death, or at two institutions too far apart for the time between the visits.',
  ),
  stages: ['pre', 'in'],
  scenarios: ['outpatient', 'inpatient', 'pharmacy', 'chronic', 'maternity', 'remote'],
  result: 'suspicious',
  severity: 'critical',
  basis: text(
    `${REGULATION}第十五条：定点医药机构应核验参保人员医疗保障凭证，不得诱导、协助他人冒名就医、购药；第四十一条：个人不得将本人的医疗保障凭证交由他人冒名使用；第四十条第(一)项。${KB_MEASURES}"冒名就医"类规则。`,
    `${REGULATION} art. 15 (institutions must verify credentials and not abet impersonation), art. 41 (no lending of one's credential), art. 40(1); the impersonation rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('rule', 'distance_km', 'hours_between', 'required_kmh', 'max_speed_kmh', 'visits', 'mdtrt_id', 'fixmedins_code', 'name', 'admdvs', 'begntime', 'endtime', 'death', 'at', 'source', 'date', 'med_type', 'insurance_pay'),
  reactsTo: ['visit.opened', 'visit.closed', 'settlement.completed'],
  lookbackDays: (p) => Math.ceil(p.max_gap_hours / 24) + 1,
  detect(ctx, p) {
    const v = ctx.visit
    const person = ctx.person
    if (v === undefined || person === undefined) return NO_FINDINGS
    let findings: Finding[] | undefined
    if (p.check_after_death && v.opened && v.begntime > 0) {
      const f = afterDeath(ctx, person, v, p)
      if (f !== undefined) (findings ??= []).push(f)
    }
    // A discharge by death that arrives after later visits were opened.
    if (p.check_after_death && ctx.event.event_type === 'visit.closed' && v.dscg_way === '5') {
      for (const o of person.visits.values()) {
        if (o === v || !o.opened || o.begntime === 0) continue
        const f = afterDeath(ctx, person, o, p)
        if (f !== undefined) (findings ??= []).push(f)
      }
    }
    if (p.check_travel && v.opened && v.begntime > 0 && ctx.event.event_type !== 'visit.closed') travel(ctx, person, v, p, (findings ??= []))
    return findings === undefined || findings.length === 0 ? NO_FINDINGS : findings
  },
})

function afterDeath(ctx: DetectContext, person: PersonState, v: VisitState, p: Params): Finding | undefined {
  let death: { at: number; source: string; date: string; endtime?: string; mdtrt_id?: string } | undefined
  const kbDate = ctx.kb.persons.get(person.psn_no)?.death_date
  // A visit on the day of death is plausible (brought in, died that day); the next day is not.
  if (kbDate !== undefined) death = { at: Date.parse(`${kbDate}T00:00:00+08:00`) + DAY_MS - 1, source: 'kb_death_date', date: kbDate }
  for (const o of person.visits.values()) {
    if (o !== v && o.dscg_way === '5' && o.endtime !== undefined && (death === undefined || o.endtime < death.at)) {
      death = { at: o.endtime + p.tolerance_minutes * 60_000, source: 'dscg_way_5', date: cnDate(o.endtime), endtime: cnIso(o.endtime), mdtrt_id: o.mdtrt_id }
    }
  }
  if (death === undefined || v.begntime <= death.at) return undefined
  const setl = activeSettlementIds(v)
  return {
    key: `${v.mdtrt_id}/after-death`,
    subject: { fixmedins_code: v.fixmedins_code, psn_no: v.psn_no, mdtrt_id: v.mdtrt_id, ...(setl.length === 1 ? { setl_id: setl[0] } : {}) },
    refs: { mdtrt_ids: death.mdtrt_id === undefined ? [v.mdtrt_id] : [v.mdtrt_id, death.mdtrt_id], setl_ids: setl, event_ids: visitEventIds(v) },
    amount_fen: insurancePaidFen(v),
    message: text(`参保人已于 ${death.date} 死亡，${cnIso(v.begntime)} 仍在本机构就诊`, `The person died on ${death.date}; a visit began here at ${cnIso(v.begntime)}`),
    evidence: { rule: 'after_death', death, begntime: cnIso(v.begntime), med_type: v.med_type, insurance_pay: insurancePaid(v) },
    event_time: cnIso(v.begntime),
    notice: { message: text('参保人已登记死亡，请核实就诊人身份', 'The insured person is recorded as deceased: confirm the patient\'s identity'), evidence: { rule: 'after_death' } },
  }
}

function travel(ctx: DetectContext, person: PersonState, v: VisitState, p: Params, out: Finding[]): void {
  const here = ctx.kb.institutions.get(v.fixmedins_code)
  if (here === undefined) return
  const gap = p.max_gap_hours * 3600_000
  for (const o of person.visits.values()) {
    if (o === v || o.fixmedins_code === v.fixmedins_code || !o.opened || o.begntime === 0) continue
    // The other visit's nearest known moment of presence: its start or its end.
    let t = o.begntime
    if (o.endtime !== undefined && Math.abs(o.endtime - v.begntime) < Math.abs(t - v.begntime)) t = o.endtime
    // A stay that spans this visit is phantom-service's concern, not travel.
    if (o.begntime <= v.begntime && o.endtime !== undefined && o.endtime >= v.begntime) continue
    const dt = Math.abs(t - v.begntime)
    if (dt > gap) continue
    const there = ctx.kb.institutions.get(o.fixmedins_code)
    if (there === undefined) continue
    const km = haversineKm(here.lat, here.lon, there.lat, there.lon)
    if (km < p.min_distance_km) continue
    const hours = dt / 3600_000
    if (km <= p.max_speed_kmh * hours) continue
    const [a, b] = v.mdtrt_id < o.mdtrt_id ? [v, o] : [o, v]
    const later = v.begntime >= o.begntime ? v : o
    const speed = hours === 0 ? null : round2(km / hours)
    out.push({
      key: `${a.mdtrt_id}~${b.mdtrt_id}/travel`,
      subject: { fixmedins_code: later.fixmedins_code, psn_no: person.psn_no, mdtrt_id: later.mdtrt_id },
      refs: { mdtrt_ids: [a.mdtrt_id, b.mdtrt_id], setl_ids: [...activeSettlementIds(a), ...activeSettlementIds(b)], event_ids: [...visitEventIds(a), ...visitEventIds(b)] },
      amount_fen: insurancePaidFen(later),
      message: text(`${round2(km)} 公里外的两家机构间隔 ${round2(hours)} 小时就诊，需时速 ${speed ?? '∞'} 公里`,
        `Visits at institutions ${round2(km)} km apart within ${round2(hours)} hours (would need ${speed ?? '∞'} km/h)`),
      evidence: {
        rule: 'impossible_travel', distance_km: round2(km), hours_between: round2(hours), required_kmh: speed, max_speed_kmh: p.max_speed_kmh,
        visits: [a, b].map((x) => {
          const inst = ctx.kb.institutions.get(x.fixmedins_code)
          return { mdtrt_id: x.mdtrt_id, fixmedins_code: x.fixmedins_code, name: inst?.name, admdvs: inst?.admdvs, begntime: cnIso(x.begntime), ...(x.endtime === undefined ? {} : { endtime: cnIso(x.endtime) }) }
        }),
      },
      event_time: cnIso(later.begntime),
      notice: {
        message: text('参保人的医保凭证在相近时间于相距甚远的其他机构使用，请核实就诊人身份', 'The insured person\'s card was used at a distant institution at a time incompatible with this visit: confirm the patient\'s identity'),
        evidence: { rule: 'impossible_travel' },
      },
    })
  }
}
