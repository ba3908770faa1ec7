import type { AnyEvent, CatalogItem, Diagnosis, FeeLine } from '../../schemas/index.ts'
import type { PatternId } from '../../src/detect/patterns.ts'
import type { KbData } from '../../src/kb/knowledge-base.ts'
import { distanceKm } from '../../src/generator/world.ts'

/**
 * A plain reference checker for every pattern, written from DOMAIN.md the way
 * a reasonable detector would read it. The generator tests use it two ways:
 * every finding on the stream must match a label (clean background does not
 * look like fraud), and every label must be found (the injected fraud is real).
 * It is deliberately simple and slow; the real detectors live in detectors/.
 */
export interface OracleFinding {
  pattern: PatternId
  fixmedins_code: string
  psn_no?: string
  refs: { mdtrt_ids: string[]; feedetl_sns: string[]; setl_ids: string[] }
  why: string
}

interface Line extends FeeLine {
  t: number
  reversed: boolean
}
interface V {
  mdtrt_id: string
  psn_no: string
  inst: string
  med_type: string
  begntime: number
  endtime?: number
  dscg_way?: string
  gend?: string
  brdy?: string
  atddr_no?: string
  diagnoses: Diagnosis[]
  finalDiagnoses?: Diagnosis[]
  principal?: string
  operations: string[]
  lines: Map<string, Line>
  setl: { setl_id: string; reversed: boolean; pay_grp?: { code: string; weight: string } }[]
}

const DAY = 86_400_000
const cnDay = (t: number): number => Math.floor((t + 8 * 3600_000) / DAY)
const inpatient = (mt: string): boolean => mt.startsWith('2') || mt === '52'
const RANK = { resident: 1, attending: 2, associate_chief: 3, chief: 4 } as const

function ageAt(brdy: string, t: number): number {
  const d = new Date(t + 8 * 3600_000)
  const [y, m, dd] = brdy.split('-').map(Number) as [number, number, number]
  let a = d.getUTCFullYear() - y
  if (d.getUTCMonth() + 1 < m || (d.getUTCMonth() + 1 === m && d.getUTCDate() < dd)) a--
  return a
}

export function oracle(events: readonly AnyEvent[], kb: KbData): OracleFinding[] {
  const catalog = new Map(kb.catalog.map((c) => [c.med_list_codg, c]))
  const insts = new Map(kb.institutions.map((i) => [i.fixmedins_code, i]))
  const doctors = new Map(kb.doctors.map((d) => [d.dr_code, d]))
  const persons = new Map(kb.persons.map((p) => [p.psn_no, p]))
  const groups = new Map(kb.groups.map((g) => [g.code, g]))
  const diagRows = new Map(kb.diagnoses.map((d) => [d.diag_code, d]))
  const visits = new Map<string, V>()
  const inv = new Map<string, { opening?: number; purchases: number; sales: number }>()
  const out: OracleFinding[] = []
  const find = (pattern: PatternId, v: V | { inst: string; psn_no?: string }, refs: Partial<OracleFinding['refs']>, why: string): void => {
    out.push({ pattern, fixmedins_code: v.inst, ...(v.psn_no ? { psn_no: v.psn_no } : {}), refs: { mdtrt_ids: refs.mdtrt_ids ?? [], feedetl_sns: refs.feedetl_sns ?? [], setl_ids: refs.setl_ids ?? [] }, why })
  }

  for (const e of events) {
    switch (e.event_type) {
      case 'visit.opened': {
        const p = e.payload
        visits.set(p.mdtrt_id, {
          mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, inst: e.source.fixmedins_code, med_type: p.med_type, begntime: Date.parse(p.begntime),
          gend: p.psn!.gend, brdy: p.psn!.brdy, atddr_no: p.atddr_no, diagnoses: p.diagnoses, operations: [], lines: new Map(), setl: [],
        })
        break
      }
      case 'visit.updated': {
        // The national shape: an outpatient visit's 医疗类别 and diagnoses arrive after its registration.
        const v = visits.get(e.payload.mdtrt_id)!
        if (e.payload.med_type !== undefined) v.med_type = e.payload.med_type
        if (e.payload.diagnoses !== undefined) v.diagnoses = e.payload.diagnoses
        if (e.payload.atddr_no !== undefined) v.atddr_no = e.payload.atddr_no
        break
      }
      case 'fee.uploaded': {
        const v = visits.get(e.payload.mdtrt_id)!
        for (const l of e.payload.lines) v.lines.set(l.feedetl_sn, { ...l, t: Date.parse(l.fee_ocur_time), reversed: false })
        break
      }
      case 'fee.reversed':
        for (const sn of e.payload.feedetl_sns!) visits.get(e.payload.mdtrt_id)!.lines.get(sn)!.reversed = true
        break
      case 'visit.closed': {
        const v = visits.get(e.payload.mdtrt_id)!
        v.endtime = Date.parse(e.payload.endtime)
        v.dscg_way = e.payload.dscg_way
        v.principal = e.payload.dscg_maindiag_code
        v.finalDiagnoses = e.payload.diagnoses ?? v.diagnoses
        v.operations = (e.payload.operations ?? []).map((o) => o.oprn_oprt_code)
        break
      }
      case 'settlement.completed':
        visits.get(e.payload.mdtrt_id)!.setl.push({ setl_id: e.payload.setl_id, reversed: false, ...(e.payload.pay_grp ? { pay_grp: e.payload.pay_grp } : {}) })
        break
      case 'settlement.reversed':
        for (const s of visits.get(e.payload.mdtrt_id)!.setl) if (s.setl_id === e.payload.setl_id) s.reversed = true
        break
      case 'inventory.movement': {
        const p = e.payload
        const k = `${p.fixmedins_code}|${p.med_list_codg}`
        let s = inv.get(k)
        if (!s) inv.set(k, (s = { purchases: 0, sales: 0 }))
        const n = Number(p.cnt)
        if (p.kind === 'stock_count' && s.opening === undefined) s.opening = n
        if (p.kind === 'purchase') s.purchases += n
        if (p.kind === 'sale') s.sales += n
        break
      }
    }
  }

  const active = (v: V): Line[] => [...v.lines.values()].filter((l) => !l.reversed)
  const item = (l: Line): CatalogItem | undefined => catalog.get(l.med_list_codg)
  const byPerson = new Map<string, V[]>()
  for (const v of visits.values()) {
    const a = byPerson.get(v.psn_no)
    if (a) a.push(v)
    else byPerson.set(v.psn_no, [v])
  }
  for (const vs of byPerson.values()) vs.sort((a, b) => a.begntime - b.begntime)

  for (const v of visits.values()) {
    const lines = active(v)
    const inst = insts.get(v.inst)!
    const level = Math.max(1, inst.level)
    const diags = v.finalDiagnoses ?? v.diagnoses
    // duplicate-charge
    const sameTime = new Map<string, Line[]>()
    const exclusive = new Map<string, Line[]>()
    for (const l of lines) {
      const k = `${l.med_list_codg}@${l.t}`
      sameTime.set(k, [...(sameTime.get(k) ?? []), l])
      const g = item(l)?.exclusive_group
      if (g) exclusive.set(`${g}@${cnDay(l.t)}`, [...(exclusive.get(`${g}@${cnDay(l.t)}`) ?? []), l])
    }
    for (const ls of sameTime.values()) if (ls.length > 1) find('duplicate-charge', v, { feedetl_sns: ls.map((l) => l.feedetl_sn) }, 'same item same time')
    for (const ls of exclusive.values()) if (new Set(ls.map((l) => l.med_list_codg)).size > 1) find('duplicate-charge', v, { feedetl_sns: ls.map((l) => l.feedetl_sn) }, 'exclusive items same day')

    const daily = new Map<string, { cnt: number; sns: string[] }>()
    const hours = new Map<string, { h: number; sns: string[] }>()
    for (const l of lines) {
      const it = item(l)
      if (!it) continue
      const age = v.brdy ? ageAt(v.brdy, l.t) : undefined
      if ((it.gend && v.gend && it.gend !== v.gend) || (age !== undefined && ((it.age_min !== undefined && age < it.age_min) || (it.age_max !== undefined && age > it.age_max))) || (it.min_hosp_lv !== undefined && level < it.min_hosp_lv)) {
        find('restricted-item', v, { feedetl_sns: [l.feedetl_sn] }, `restricted ${it.name}`)
      }
      const cap = level >= 3 ? it.price_cap_lv3 : level === 2 ? it.price_cap_lv2 : it.price_cap_lv1
      if (cap !== undefined && Math.round(Number(l.pric) * 100) > Math.round(Number(cap) * 100)) find('over-standard-charge', v, { feedetl_sns: [l.feedetl_sn] }, `${it.name} ${l.pric} > ${cap}`)
      // Chronic-only drugs are chronic-disease-abuse's to judge, and 丙 is never fund-paid.
      if (it.indications.length && !it.chronic_only && it.chrgitm_lv !== '丙' && diags.length && !diags.some((d) => it.indications.some((p) => d.diag_code.startsWith(p)))) find('out-of-scope', v, { feedetl_sns: [l.feedetl_sn] }, `${it.name} without indication`)
      if (l.prd_days !== undefined && it.max_prd_days !== undefined && l.prd_days > it.max_prd_days) find('over-quantity', v, { feedetl_sns: [l.feedetl_sn] }, `${it.name} ${l.prd_days} days`)
      if (l.prd_days === undefined && it.max_cnt_per_day !== undefined) {
        const k = `${l.med_list_codg}@${cnDay(l.t)}`
        const d = daily.get(k) ?? { cnt: 0, sns: [] }
        d.cnt += Number(l.cnt)
        d.sns.push(l.feedetl_sn)
        daily.set(k, d)
        if (d.cnt > it.max_cnt_per_day) find('over-quantity', v, { feedetl_sns: [...d.sns] }, `${it.name} ${d.cnt}/day`)
      }
      if (it.time_unit === 'hour') {
        const k = `${l.med_list_codg}@${cnDay(l.t)}`
        const d = hours.get(k) ?? { h: 0, sns: [] }
        d.h += Number(l.hours ?? l.cnt)
        d.sns.push(l.feedetl_sn)
        hours.set(k, d)
        if (d.h > 24) find('phantom-service', v, { feedetl_sns: [...d.sns] }, `${it.name} ${d.h} h in a day`)
      }
      if (it.required_title) {
        const dr = doctors.get(l.bilg_dr_codg)
        if (dr && RANK[dr.title] < RANK[it.required_title]) find('service-level-upcoding', v, { feedetl_sns: [l.feedetl_sn] }, `${it.name} by ${dr.title}`)
      }
      if (it.high_value && !v.operations.some((o) => it.oprn_prefixes.some((p) => o.startsWith(p)))) find('high-value-consumable', v, { feedetl_sns: [l.feedetl_sn] }, `${it.name} without operation`)
      if (it.chronic_only) {
        const reg = persons.get(v.psn_no)?.chronic_diseases ?? []
        if (!reg.some((c) => it.indications.some((p) => c.startsWith(p) || p.startsWith(c)))) find('chronic-disease-abuse', v, { feedetl_sns: [l.feedetl_sn] }, `${it.name} unregistered`)
      }
      if (l.t < v.begntime - 60_000 || (v.endtime !== undefined && l.t > v.endtime + 60_000)) find('phantom-service', v, { feedetl_sns: [l.feedetl_sn] }, 'line outside the visit')
    }
    // unbundling
    for (const l of lines) {
      const it = item(l)
      if (!it?.includes.length) continue
      const parts = lines.filter((o) => it.includes.includes(o.med_list_codg) && cnDay(o.t) === cnDay(l.t))
      if (parts.length) find('unbundling', v, { feedetl_sns: [l.feedetl_sn, ...parts.map((p) => p.feedetl_sn)] }, `${it.name} with components`)
    }
    if (inpatient(v.med_type) && v.endtime !== undefined) {
      const los = Math.max(1, cnDay(v.endtime) - cnDay(v.begntime))
      const beds = lines.filter((l) => l.med_chrgitm_type === '01')
      const bedDays = beds.reduce((s, l) => s + Number(l.cnt), 0)
      if (bedDays > los) find('phantom-service', v, { feedetl_sns: beds.map((l) => l.feedetl_sn) }, `${bedDays} bed days in ${los}`)
      // bed-holding: 3+ days in a row with no drug, test or treatment line.
      let idle = 0
      for (let d = cnDay(v.begntime); d <= cnDay(v.endtime); d++) {
        const care = lines.some((l) => cnDay(l.t) === d && (l.list_type === 'drug' || l.list_type === 'herb' || ['03', '04', '05', '06'].includes(l.med_chrgitm_type)))
        idle = care ? 0 : idle + 1
        if (idle === 3) find('bed-holding', v, { mdtrt_ids: [v.mdtrt_id] }, 'idle days')
      }
      // drg-upcoding
      const s = v.setl.find((x) => !x.reversed && x.pay_grp)
      const g = s?.pay_grp && groups.get(s.pay_grp.code)
      if (s && g) {
        const billed = new Set(lines.map((l) => l.med_list_codg))
        const need = g.cc === 'MCC' ? ['MCC'] : g.cc === 'CC' ? ['CC', 'MCC'] : []
        if (need.length) {
          const supported = diags.some((d) => {
            if (d.maindiag_flag === '1') return false
            const row = diagRows.get(d.diag_code)
            return row !== undefined && need.includes(row.cc) && (row.evidence_items.length === 0 || row.evidence_items.some((c) => billed.has(c)))
          })
          if (!supported) find('drg-upcoding', v, { mdtrt_ids: [v.mdtrt_id], setl_ids: [s.setl_id] }, `${g.code} unsupported`)
        }
        if (g.weight >= 1.2 && los < 0.4 * g.avg_los_days && v.dscg_way !== '2' && v.dscg_way !== '5') find('drg-upcoding', v, { mdtrt_ids: [v.mdtrt_id], setl_ids: [s.setl_id] }, `${g.code} ${los} days`)
      }
    }
  }

  for (const [psn, vs] of byPerson) {
    const person = persons.get(psn)
    const lines = vs.flatMap((v) => active(v).map((l) => ({ v, l })))
    // over-quantity: cumulative supply in 30 days above 45.
    for (const { v, l } of lines) {
      if (l.prd_days === undefined || (l.list_type !== 'drug' && l.list_type !== 'herb')) continue
      const sum = lines.filter((o) => o.l.med_list_codg === l.med_list_codg && o.l.prd_days !== undefined && o.l.t > l.t - 30 * DAY && o.l.t <= l.t).reduce((s, o) => s + o.l.prd_days!, 0)
      if (sum > 45) find('over-quantity', v, { feedetl_sns: [l.feedetl_sn] }, `cumulative ${sum}`)
    }
    // split-prescription and drug-hoarding
    const drugLines = lines.filter(({ v, l }) => !inpatient(v.med_type) && l.prd_days !== undefined && l.list_type === 'drug')
    for (const { v, l } of drugLines) {
      const it = item(l)
      const same = drugLines.filter((o) => o.l.med_list_codg === l.med_list_codg && o.v.inst === v.inst && cnDay(o.l.t) === cnDay(l.t))
      // Separate prescriptions: distinct visit or distinct time within a visit.
      if (it?.max_prd_days !== undefined && new Set(same.map((o) => `${o.v.mdtrt_id}@${o.l.t}`)).size > 1 && same.reduce((s, o) => s + o.l.prd_days!, 0) > it.max_prd_days) {
        find('split-prescription', v, { feedetl_sns: same.map((o) => o.l.feedetl_sn) }, `${it.name} split`)
      }
      if (v.med_type === '41') {
        const near = drugLines.filter((o) => o.v.med_type === '41' && o.l.med_list_codg === l.med_list_codg && Math.abs(o.l.t - l.t) <= 15 * DAY)
        if (new Set(near.map((o) => o.v.inst)).size >= 3) find('drug-hoarding', v, { feedetl_sns: near.map((o) => o.l.feedetl_sn) }, 'several pharmacies')
      }
    }
    // split-hospitalization, simultaneous stays, outpatient while inpatient
    const stays = vs.filter((v) => inpatient(v.med_type) && v.endtime !== undefined)
    for (let i = 0; i < stays.length; i++) {
      for (let j = i + 1; j < stays.length; j++) {
        const a = stays[i]!
        const b = stays[j]!
        if (b.begntime < a.endtime! && b.inst !== a.inst) find('phantom-service', b, { mdtrt_ids: [a.mdtrt_id, b.mdtrt_id] }, 'overlapping stays')
        const gap = cnDay(b.begntime) - cnDay(a.endtime!)
        const planned = (b.finalDiagnoses ?? b.diagnoses).some((d) => d.diag_code.startsWith('Z49') || d.diag_code.startsWith('Z51'))
        if (b.inst === a.inst && gap >= 0 && gap <= 15 && a.principal?.slice(0, 3) === b.principal?.slice(0, 3) && !planned && a.dscg_way !== '2' && a.dscg_way !== '5') {
          find('split-hospitalization', b, { mdtrt_ids: [a.mdtrt_id, b.mdtrt_id] }, `readmitted after ${gap} days`)
        }
      }
    }
    for (const o of vs) {
      if (inpatient(o.med_type)) continue
      for (const s of stays) if (s.inst !== o.inst && o.begntime > s.begntime && o.begntime < s.endtime!) find('phantom-service', o, { mdtrt_ids: [o.mdtrt_id, s.mdtrt_id] }, 'outpatient while inpatient')
    }
    // identity-misuse: after death, or faster than anyone travels.
    if (person?.death_date) {
      const death = Date.parse(`${person.death_date}T23:59:59+08:00`)
      for (const v of vs) {
        if (v.begntime > death) {
          find('identity-misuse', v, { mdtrt_ids: [v.mdtrt_id] }, 'after death')
          find('phantom-service', v, { mdtrt_ids: [v.mdtrt_id] }, 'after death')
        }
      }
    }
    for (let i = 1; i < vs.length; i++) {
      const a = vs[i - 1]!
      const b = vs[i]!
      const km = distanceKm(insts.get(a.inst)!, insts.get(b.inst)!)
      const h = (b.begntime - (a.endtime ?? a.begntime)) / 3600_000
      if (km > 300 && km / Math.max(h, 0.01) > 250) find('identity-misuse', b, { mdtrt_ids: [a.mdtrt_id, b.mdtrt_id] }, `${Math.round(km)} km in ${h.toFixed(1)} h`)
    }
    // dialysis-frequency: more than 3 sessions in any 7 China days.
    const sessions = lines.filter(({ l }) => item(l)?.dialysis).sort((x, y) => x.l.t - y.l.t)
    for (let i = 0; i < sessions.length; i++) {
      const d0 = cnDay(sessions[i]!.l.t)
      const win = sessions.filter((s) => cnDay(s.l.t) >= d0 && cnDay(s.l.t) <= d0 + 6)
      if (win.length > 3) find('dialysis-frequency', sessions[i]!.v, { feedetl_sns: win.map((s) => s.l.feedetl_sn) }, `${win.length} sessions in 7 days`)
    }
    // frequent-visits: 8+ outpatient visits (not dialysis) in 14 days, or 16+ in a calendar month.
    const otp = vs.filter((v) => (v.med_type === '11' || v.med_type === '13' || v.med_type === '14') && !active(v).some((l) => item(l)?.dialysis))
    for (let i = 0; i < otp.length; i++) {
      const win = otp.filter((v) => v.begntime >= otp[i]!.begntime && v.begntime < otp[i]!.begntime + 14 * DAY)
      if (win.length >= 8) find('frequent-visits', otp[i]!, { mdtrt_ids: win.map((v) => v.mdtrt_id) }, `${win.length} visits in 14 days`)
    }
    const byMonth = new Map<string, V[]>()
    for (const v of otp) {
      const m = new Date(v.begntime + 8 * 3600_000).toISOString().slice(0, 7)
      byMonth.set(m, [...(byMonth.get(m) ?? []), v])
    }
    for (const ms of byMonth.values()) if (ms.length > 15) find('frequent-visits', ms[0]!, { mdtrt_ids: ms.map((v) => v.mdtrt_id) }, `${ms.length} visits in a month`)
  }

  // Provider level (audit).
  const peers = new Map<string, { inst: string; cost: number; n: number }[]>()
  const perInst = new Map<string, { cost: number; n: number }>()
  const therapy = new Map<string, number>()
  const cmi = new Map<string, { early: number[]; late: number[] }>()
  const night = new Map<string, V[]>()
  const allStart = Math.min(...[...visits.values()].map((v) => v.begntime))
  const allEnd = Math.max(...[...visits.values()].map((v) => v.begntime))
  const mid = (allStart + allEnd) / 2
  for (const v of visits.values()) {
    const lines = active(v)
    if (v.med_type === '11') {
      const s = perInst.get(v.inst) ?? { cost: 0, n: 0 }
      s.cost += lines.reduce((a, l) => a + Number(l.det_item_fee_sumamt), 0)
      s.n++
      perInst.set(v.inst, s)
    }
    for (const l of lines) {
      const m = item(l)?.therapist_minutes
      if (m) therapy.set(`${v.inst}@${cnDay(l.t)}`, (therapy.get(`${v.inst}@${cnDay(l.t)}`) ?? 0) + m * Number(l.cnt))
    }
    // Case mix: the share of stays grouped at a complication level, among groups split by it.
    const s = v.setl.find((x) => !x.reversed && x.pay_grp)
    const cc = s?.pay_grp ? groups.get(s.pay_grp.code)?.cc : undefined
    if (cc !== undefined) {
      const c = cmi.get(v.inst) ?? { early: [], late: [] }
      ;(v.begntime < mid ? c.early : c.late).push(cc === 'none' ? 0 : 1)
      cmi.set(v.inst, c)
    }
    const hour = new Date(v.begntime + 8 * 3600_000).getUTCHours()
    if (hour >= 21 || hour < 6) {
      const k = `${v.inst}@${v.atddr_no}@${cnDay(v.begntime - 6 * 3600_000)}@${lines.map((l) => l.med_list_codg).sort().join(',')}`
      night.set(k, [...(night.get(k) ?? []), v])
    }
  }
  for (const [code, s] of perInst) {
    const i = insts.get(code)!
    const k = `${i.kind}/${i.level}/${i.type}`
    peers.set(k, [...(peers.get(k) ?? []), { inst: code, ...s }])
  }
  for (const group of peers.values()) {
    const means = group.filter((g) => g.n >= 10).map((g) => g.cost / g.n).sort((a, b) => a - b)
    const median = means[Math.floor(means.length / 2)]
    if (median === undefined || means.length < 3) continue
    for (const g of group) if (g.n >= 10 && g.cost / g.n > 3 * median) find('provider-outlier', { inst: g.inst }, {}, `cost per visit ${(g.cost / g.n).toFixed(0)} vs median ${median.toFixed(0)}`)
  }
  for (const [k, minutes] of therapy) {
    const code = k.split('@')[0]!
    const cap = insts.get(code)!.therapists * 480
    if (minutes > cap) find('capacity-exceeded', { inst: code }, {}, `${minutes} therapist minutes > ${cap}`)
  }
  for (const [code, c] of cmi) {
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
    if (c.early.length >= 6 && c.late.length >= 6 && avg(c.late) - avg(c.early) >= 0.3) find('case-mix-drift', { inst: code }, {}, `CC/MCC share ${avg(c.early).toFixed(2)} → ${avg(c.late).toFixed(2)}`)
  }
  for (const vs of night.values()) if (vs.length >= 8) find('collusion', { inst: vs[0]!.inst }, { mdtrt_ids: vs.map((v) => v.mdtrt_id) }, `${vs.length} identical night visits`)
  for (const [k, s] of inv) if (s.sales > s.purchases + (s.opening ?? 0)) find('inventory-mismatch', { inst: k.split('|')[0]! }, {}, `${k}: sales ${s.sales} > ${s.purchases} + ${s.opening ?? 0}`)
  return out
}
