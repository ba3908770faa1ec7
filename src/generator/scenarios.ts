import type { Diagnosis, Doctor } from '../../schemas/index.ts'
import { DEPTS } from '../kb/sample.ts'
import { DAY_MS, cnDayStart } from '../util/time.ts'
import type { Rng } from './random.ts'
import { Visit, dxOf, emitVisit, type Closed, type GenCtx, type LineRec } from './visit.ts'
import type { GInst, GPerson, World } from './world.ts'

/**
 * Clinical scenarios of clean background care: what a visit of each kind bills,
 * in what order and at what times. Each builds a Visit (whose clean mode
 * refuses anything a rule forbids) and emits it.
 */

export const MIN = 60_000
export const HOUR = 3_600_000

export const dayStartOf = cnDayStart

const DX_NAMES: Record<string, string> = {}
export function dx(world: World, code: string, main: boolean): Diagnosis {
  let name = DX_NAMES[code]
  if (name === undefined) {
    name = world.kb.diagnoses.find((d) => d.diag_code === code)?.name ?? code
    DX_NAMES[code] = name
  }
  return dxOf(code, name, main)
}

/** Registration and the diagnosis fee a doctor of this title bills (the clean match of 诊查费 to title). */
export function consultFees(v: Visit, t: number, emergency = false): void {
  const w = v.world
  if (v.inst.level <= 1) {
    v.add(w.item('gp_fee'), t, 1)
    return
  }
  v.add(w.item('reg'), t, 1)
  const title = v.doctor.title
  const key = emergency ? 'consult_er' : title === 'chief' ? 'consult_chief' : title === 'associate_chief' ? 'consult_assoc' : 'consult'
  v.add(w.item(key), t + MIN, 1)
}

export function labs(v: Visit, keys: readonly string[], t: number): void {
  v.add(v.world.item('blood_draw'), t, 1)
  for (const k of keys) v.add(v.world.item(k), t + 2 * MIN, 1)
}

export function rx(v: Visit, key: string, t: number, boxes: number, prd: number): LineRec | undefined {
  return v.add(v.world.item(key), t, boxes, { prd_days: prd })
}

/** An infusion: the drug, its carrier, the infusion fee and the set. */
export function drip(v: Visit, drugKey: string, cnt: number, t: number, extraGroup = false): void {
  const w = v.world
  if (!v.add(w.item(drugKey), t, cnt)) return
  v.add(w.item('ns_250'), t, 1)
  v.add(w.item(extraGroup ? 'iv_extra' : 'iv_drip'), t, 1)
  v.add(w.item('infusion_set'), t, 1)
}

function doctorIn(w: World, rng: Rng, inst: GInst, dept: string, titles?: readonly Doctor['title'][]): Doctor {
  return w.pickDoctor(rng, inst, dept, titles)
}

// ------------------------------------------------------------------ outpatient

export interface OtpScenario {
  id: string
  /** 0 when the person does not fit. */
  weight(p: GPerson, age: number): number
  dx: string[]
  dept: string
  emergency?: boolean
  /** Where it happens: any clinic/hospital, a graded hospital, or a TCM institution. */
  where?: 'any' | 'hospital' | 'tcm'
  build(v: Visit, t: number, rng: Rng): void
}

const adult = (age: number): boolean => age >= 18
const child = (age: number): boolean => age <= 13

export const OTP: OtpScenario[] = [
  {
    id: 'urti-adult', dx: ['J06.900'], dept: DEPTS.internal, weight: (_p, a) => (adult(a) ? 10 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      if (rng.chance(0.3)) labs(v, ['cbc'], t + 10 * MIN)
      for (const k of rng.sample(['lianhua', 'ganmao_qingre', 'paracetamol', 'ibuprofen', 'banlangen'], rng.int(1, 2))) rx(v, k, t + 30 * MIN, rng.int(1, 2), rng.int(3, 5))
    },
  },
  {
    id: 'urti-child', dx: ['J06.900'], dept: DEPTS.paediatrics, weight: (_p, a) => (child(a) ? 14 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      if (rng.chance(0.4)) labs(v, ['cbc'], t + 10 * MIN)
      for (const k of rng.sample(['kids_cold', 'ibuprofen_susp', 'kids_ganmao'], rng.int(1, 2))) rx(v, k, t + 30 * MIN, 1, rng.int(3, 5))
    },
  },
  {
    id: 'bronchitis-adult', dx: ['J20.900'], dept: DEPTS.internal, weight: (_p, a) => (adult(a) ? 5 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      if (rng.chance(0.5)) v.add(v.world.item('dr_chest'), t + 15 * MIN, 1)
      if (rng.chance(0.4)) labs(v, ['cbc', 'crp'], t + 10 * MIN)
      rx(v, rng.pick(['amoxicillin', 'cefuroxime', 'azithromycin', 'levofloxacin']), t + 40 * MIN, rng.int(1, 2), 5)
      rx(v, 'ambroxol', t + 40 * MIN, 1, 5)
    },
  },
  {
    id: 'bronchitis-child', dx: ['J20.900'], dept: DEPTS.paediatrics, weight: (_p, a) => (child(a) ? 6 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      rx(v, 'cefaclor_susp', t + 20 * MIN, 1, 5)
      rx(v, 'kids_feire', t + 20 * MIN, 1, 5)
      if (rng.chance(0.3)) {
        v.add(v.world.item('nebulize'), t + 30 * MIN, 1)
        v.add(v.world.item('budesonide'), t + 30 * MIN, 1, { prd_days: 3 })
      }
    },
  },
  {
    id: 'flu', dx: ['J11.100'], dept: DEPTS.internal, weight: () => 2,
    build(v, t) {
      consultFees(v, t)
      v.add(v.world.item('flu_ag'), t + 10 * MIN, 1)
      rx(v, 'oseltamivir', t + 30 * MIN, 1, 5)
    },
  },
  {
    id: 'gastritis', dx: ['K29.700'], dept: DEPTS.internal, weight: (_p, a) => (adult(a) ? 4 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      if (rng.chance(0.3)) v.add(v.world.item('bus'), t + 15 * MIN, 1)
      if (rng.chance(0.1)) v.add(v.world.item('gastroscopy'), t + 60 * MIN, 1)
      rx(v, 'omeprazole', t + 70 * MIN, rng.int(1, 2), 14)
    },
  },
  {
    id: 'lumbago', dx: ['M54.500'], dept: DEPTS.rehab, weight: (_p, a) => (adult(a) ? 4 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      rx(v, rng.pick(['ibuprofen', 'diclofenac_gel', 'yunnan_baiyao']), t + 10 * MIN, 1, 7)
      if (v.inst.row.therapists > 0) {
        if (rng.chance(0.6)) v.add(v.world.item('tuina'), t + 20 * MIN, 1)
        if (rng.chance(0.5)) v.add(v.world.item('mf_elec'), t + 45 * MIN, 1)
      }
      if (rng.chance(0.4)) v.add(v.world.item('acupuncture'), t + 70 * MIN, 1)
    },
  },
  {
    id: 'dermatitis', dx: ['L30.900'], dept: DEPTS.general, weight: () => 2,
    build(v, t) {
      consultFees(v, t)
      rx(v, 'loratadine', t + 10 * MIN, 1, 7)
    },
  },
  {
    id: 'htn-followup', dx: ['I10.x00x002'], dept: DEPTS.internal, weight: (p, a) => (a >= 40 && !p.chronic.includes('I10') ? 5 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      if (rng.chance(0.3)) v.add(v.world.item('ecg'), t + 10 * MIN, 1)
      if (rng.chance(0.2)) labs(v, ['lipid'], t + 20 * MIN)
      rx(v, rng.pick(['amlodipine', 'nifedipine', 'valsartan', 'losartan']), t + 40 * MIN, rng.int(1, 2), rng.pick([14, 28, 30]))
    },
  },
  {
    id: 'dm-followup', dx: ['E11.900'], dept: DEPTS.internal, weight: (p, a) => (a >= 40 && !p.chronic.includes('E11') ? 3 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      labs(v, rng.chance(0.3) ? ['glu', 'hba1c'] : ['glu'], t + 10 * MIN)
      rx(v, rng.pick(['metformin', 'gliclazide', 'acarbose']), t + 40 * MIN, rng.int(1, 2), rng.pick([14, 28, 30]))
    },
  },
  {
    id: 'chd-followup', dx: ['I25.100'], dept: DEPTS.internal, weight: (p, a) => (a >= 50 && !p.chronic.includes('I25') ? 2 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      v.add(v.world.item('ecg'), t + 10 * MIN, 1)
      rx(v, 'aspirin', t + 30 * MIN, 1, 28)
      rx(v, 'clopidogrel', t + 30 * MIN, 1, 28)
      if (rng.chance(0.3)) rx(v, 'tongxinluo', t + 30 * MIN, 1, 14)
    },
  },
  {
    id: 'insomnia-tcm', dx: ['F51.000'], dept: DEPTS.tcm, where: 'tcm', weight: (_p, a) => (adult(a) ? 3 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      v.add(v.world.item('tcm_diag'), t + 5 * MIN, 1)
      const doses = rng.int(5, 7)
      const herbs = rng.sample(['suanzaoren', 'fuling', 'danggui', 'baishao', 'chaihu', 'gancao', 'maidong', 'shudi', 'dangshen', 'huangqi', 'chenpi'], rng.int(6, 9))
      for (const h of herbs) v.add(v.world.item(h), t + 25 * MIN, rng.pick([9, 10, 12, 15, 20, 30]) * doses, { prd_days: doses })
      if (rng.chance(0.6)) v.add(v.world.item('decoction'), t + 26 * MIN, doses)
      if (rng.chance(0.3)) rx(v, rng.pick(['xiaoyao', 'liuwei']), t + 27 * MIN, 1, 14)
    },
  },
  {
    id: 'dysmenorrhea', dx: ['N94.600'], dept: DEPTS.obgyn, weight: (p, a) => (p.gend === '2' && a >= 14 && a <= 45 ? 3 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      if (rng.chance(0.2)) v.add(v.world.item('bus'), t + 15 * MIN, 1)
      rx(v, rng.pick(['yimucao', 'wuji', 'guizhi_fuling']), t + 30 * MIN, 1, 14)
    },
  },
  {
    id: 'gyn-exam', dx: ['Z01.400'], dept: DEPTS.obgyn, weight: (p, a) => (p.gend === '2' && a >= 25 && a <= 64 ? 2 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      v.add(v.world.item('pap'), t + 15 * MIN, 1)
      if (rng.chance(0.5)) v.add(v.world.item('bus'), t + 30 * MIN, 1)
    },
  },
  {
    id: 'bph', dx: ['N40.x00'], dept: DEPTS.surgery, weight: (p, a) => (p.gend === '1' && a >= 50 ? 4 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      if (rng.chance(0.4)) labs(v, ['psa'], t + 10 * MIN)
      if (rng.chance(0.3)) v.add(v.world.item('bus'), t + 25 * MIN, 1)
      rx(v, rng.pick(['tamsulosin', 'finasteride', 'qianlie']), t + 40 * MIN, 1, 30)
    },
  },
  {
    id: 'osteoporosis', dx: ['M81.000'], dept: DEPTS.internal, weight: (p, a) => (p.gend === '2' && a >= 55 ? 3 : 0),
    build(v, t) {
      consultFees(v, t)
      rx(v, 'alendronate', t + 20 * MIN, 1, 28)
      rx(v, 'calcium_d3', t + 20 * MIN, 1, 30)
    },
  },
  {
    id: 'alzheimer', dx: ['G30.900'], dept: DEPTS.internal, weight: (_p, a) => (a >= 68 ? 1 : 0),
    build(v, t) {
      consultFees(v, t)
      rx(v, 'donepezil', t + 20 * MIN, 1, 28)
    },
  },
  {
    id: 'hypothyroid', dx: ['E03.900'], dept: DEPTS.internal, weight: (p, a) => (p.gend === '2' && a >= 30 ? 1 : 0),
    build(v, t) {
      consultFees(v, t)
      rx(v, 'levothyroxine', t + 20 * MIN, 1, 30)
    },
  },
  {
    id: 'conjunctivitis', dx: ['H10.900'], dept: DEPTS.ophthalmology, where: 'hospital', weight: () => 1,
    build(v, t) {
      consultFees(v, t)
      rx(v, 'tobradex', t + 15 * MIN, 1, 7)
    },
  },
  {
    id: 'kids-tuina', dx: ['J06.900'], dept: DEPTS.tcm, where: 'tcm', weight: (_p, a) => (a <= 6 ? 2 : 0),
    build(v, t, rng) {
      consultFees(v, t)
      v.add(v.world.item('kids_tuina'), t + 15 * MIN, 1)
      if (rng.chance(0.5)) rx(v, 'kids_ganmao', t + 40 * MIN, 1, 3)
    },
  },
  {
    id: 'chest-pain', dx: ['R07.400'], dept: DEPTS.emergency, emergency: true, where: 'hospital', weight: (_p, a) => (a >= 30 ? 2 : 0),
    build(v, t, rng) {
      consultFees(v, t, true)
      v.add(v.world.item('ecg'), t + 5 * MIN, 1)
      labs(v, ['myo'], t + 10 * MIN)
      v.add(v.world.item('ecg_monitor'), t + 15 * MIN, rng.int(2, 4))
      rx(v, 'aspirin', t + 60 * MIN, 1, 7)
    },
  },
  {
    id: 'abdominal-pain', dx: ['R10.400'], dept: DEPTS.emergency, emergency: true, where: 'hospital', weight: (_p, a) => (a >= 6 ? 2 : 0),
    build(v, t, rng) {
      consultFees(v, t, true)
      v.add(v.world.item('bus'), t + 10 * MIN, 1)
      labs(v, ['cbc'], t + 15 * MIN)
      if (rng.chance(0.5)) {
        v.add(v.world.item('ns_250'), t + 40 * MIN, 1)
        v.add(v.world.item('iv_drip'), t + 40 * MIN, 1)
        v.add(v.world.item('infusion_set'), t + 40 * MIN, 1)
      }
      rx(v, 'omeprazole', t + 90 * MIN, 1, 7)
    },
  },
  {
    id: 'finger-wound', dx: ['S61.000'], dept: DEPTS.emergency, emergency: true, where: 'hospital', weight: () => 1.5,
    build(v, t, rng) {
      consultFees(v, t, true)
      v.add(v.world.item('lidocaine'), t + 10 * MIN, 1)
      v.add(v.world.item('debride'), t + 12 * MIN, 1)
      v.add(v.world.item('suture'), t + 12 * MIN, 1)
      if (rng.chance(0.8)) v.add(v.world.item('tat'), t + 30 * MIN, 1)
      v.add(v.world.item('dressing_m'), t + 35 * MIN, 1)
    },
  },
  {
    id: 'fever', dx: ['R50.900'], dept: DEPTS.emergency, emergency: true, where: 'hospital', weight: () => 2,
    build(v, t, rng) {
      consultFees(v, t, true)
      labs(v, ['cbc', 'crp'], t + 10 * MIN)
      rx(v, v.world.age(v.person, t) <= 13 ? 'ibuprofen_susp' : 'ibuprofen', t + 50 * MIN, 1, rng.int(2, 3))
    },
  },
]

const OTP_CLINIC = OTP.filter((s) => !s.emergency)
const OTP_EMERGENCY = OTP.filter((s) => s.emergency)

export function pickOutpatient(rng: Rng, p: GPerson, age: number, emergency: boolean): OtpScenario {
  const list = emergency ? OTP_EMERGENCY : OTP_CLINIC
  const options = list.map((s) => [s, s.weight(p, age)] as const).filter(([, wt]) => wt > 0)
  return rng.weighted(options.length ? options : [[OTP[0]!, 1]])
}

/** Where an outpatient visit happens: the person's own clinic, their hospital, or a TCM institution. */
export function otpInstitution(rng: Rng, p: GPerson, s: OtpScenario): GInst {
  const r = p.region
  if (s.where === 'tcm') {
    const tcm = r.all.filter((i) => i.row.type.includes('中医') || (i.row.kind === 'clinic' && i.byDept.has(DEPTS.tcm)))
    if (tcm.length) return rng.pick(tcm)
  }
  if (s.where === 'hospital' || s.emergency) return rng.chance(0.7) && p.hospital ? p.hospital : rng.pick(r.general)
  if (rng.chance(0.55) && p.clinic) return p.clinic
  return rng.chance(0.6) && p.hospital ? p.hospital : rng.pick(rng.chance(0.5) ? r.general : r.clinics)
}

export interface VisitIds {
  mdtrt_id: string
}

/** Background corrections: a few visits withdraw a line (some re-bill it), a few are re-settled. */
export interface Corrections {
  reverseLine: boolean
  rebill: boolean
  resettle: boolean
}
export function corrections(rng: Rng): Corrections {
  const reverseLine = rng.chance(0.012)
  return { reverseLine, rebill: reverseLine && rng.chance(0.4), resettle: rng.chance(0.006) }
}

export function outpatientVisit(g: GenCtx, p: GPerson, inst: GInst, t: number, s: OtpScenario, rng: Rng, mdtrt_id: string, o: { corrections?: Corrections; build?: (v: Visit, t: number) => void } = {}): { visit: Visit; closed: Closed } {
  const w = g.world
  const doctor = doctorIn(w, rng, inst, inst.level <= 1 ? (inst.byDept.has(s.dept) ? s.dept : DEPTS.general) : s.dept)
  const med_type = s.emergency ? '13' : '11'
  const diagnoses = s.dx.map((c, i) => dx(w, c, i === 0))
  const v = new Visit(g, p, inst, med_type, t, doctor.dept_codg ?? s.dept, doctor, diagnoses, mdtrt_id)
  s.build(v, t + 2 * MIN, rng)
  o.build?.(v, t + 2 * MIN)
  if (v.lines.length === 0) consultFees(v, t + 2 * MIN)
  const last = v.lines.reduce((m, l) => Math.max(m, l.t), t)
  const c = o.corrections
  const closed = emitVisit(v, { endtime: last + rng.int(20, 50) * MIN, uploads: 'visit', rng, ...(c ?? {}) })
  return { visit: v, closed }
}

// ------------------------------------------------------------------ pharmacy

const OTC_ADULT = ['lianhua', 'banlangen', 'huoxiang', 'ganmao_qingre', 'paracetamol', 'ibuprofen', 'loratadine', 'omeprazole', 'vitamin_c', 'yunnan_baiyao', 'diclofenac_gel', 'liuwei', 'xiaoyao', 'danshen_pills', 'calcium_d3', 'mecobalamin', 'ginkgo']
const OTC_CHILD = ['kids_ganmao', 'ibuprofen_susp', 'kids_cold']
const OTC_WOMEN = ['yimucao', 'wuji']
const OTC_MEN = ['qianlie']
const LONG_SUPPLY = new Set(['liuwei', 'xiaoyao', 'danshen_pills', 'calcium_d3', 'mecobalamin', 'ginkgo', 'qianlie', 'wuji', 'vitamin_c'])

/** Pharmacy purchases a person made, to keep clean buyers from spreading one drug over several pharmacies. */
export type PharmacyLedger = Map<string, { inst: string; t: number }>

export function pharmacyVisit(g: GenCtx, p: GPerson, inst: GInst, t: number, rng: Rng, mdtrt_id: string, ledger: PharmacyLedger, o: { items?: { key: string; cnt: number; prd: number; fraud?: boolean }[]; corrections?: Corrections } = {}): { visit: Visit; lines: LineRec[] } {
  const w = g.world
  const doctor = w.pickDoctor(rng, inst)
  const v = new Visit(g, p, inst, '41', t, DEPTS.pharmacy, doctor, [], mdtrt_id)
  const age = w.age(p, t)
  const lines: LineRec[] = []
  if (o.items) {
    for (const it of o.items) {
      const l = v.add(w.item(it.key), t + 3 * MIN, it.cnt, { prd_days: it.prd, ...(it.fraud ? { fraud: true, sale: true } : {}) })
      if (l) lines.push(l)
    }
  } else {
    const pool = [...(age <= 13 ? OTC_CHILD : OTC_ADULT), ...(age >= 14 ? (p.gend === '2' ? OTC_WOMEN : OTC_MEN) : [])]
    for (const key of rng.sample(pool, rng.int(1, 3))) {
      const item = w.item(key)
      const prev = ledger.get(`${p.psn_no}|${item.med_list_codg}`)
      if (prev && prev.inst !== inst.code && t - prev.t < 60 * DAY_MS) continue
      const l = v.add(item, t + 3 * MIN, rng.int(1, 2), { prd_days: LONG_SUPPLY.has(key) ? rng.pick([10, 15, 20]) : rng.int(2, 5) })
      if (l) {
        ledger.set(`${p.psn_no}|${item.med_list_codg}`, { inst: inst.code, t })
        lines.push(l)
      }
    }
    if (v.lines.length === 0) {
      const l = v.add(w.item(age <= 13 ? 'kids_ganmao' : 'vitamin_c'), t + 3 * MIN, 1, { prd_days: 3 })
      if (l) lines.push(l)
    }
  }
  emitVisit(v, { endtime: t + rng.int(6, 12) * MIN, uploads: 'visit', rng, ...(o.corrections ? { resettle: o.corrections.resettle } : {}) })
  return { visit: v, lines }
}

// ------------------------------------------------------------------ chronic (门诊慢特病) and dialysis

/** The long-term regimen of a registered disease, stable per person. */
export function chronicRegimen(p: GPerson, disease: string): string[] {
  const h = p.idx
  switch (disease) {
    case 'I10': return [['amlodipine', 'valsartan', 'nifedipine', 'losartan'][h % 4]!]
    case 'E11': return h % 3 === 0 ? ['metformin', 'glargine'] : h % 3 === 1 ? ['metformin', 'acarbose'] : ['gliclazide']
    case 'I25': return ['aspirin', 'atorvastatin', 'clopidogrel']
    case 'J44': return ['tiotropium', 'salbutamol']
    case 'B18': return ['entecavir']
    case 'I50': return ['sacubitril', 'metoprolol']
    case 'F20': return ['olanzapine']
    case 'J45': return h % 2 === 0 ? ['montelukast'] : ['salbutamol']
    default: return []
  }
}

export const CHRONIC_DX: Record<string, string> = {
  I10: 'I10.x00x002', E11: 'E11.900', I25: 'I25.100', J44: 'J44.900', B18: 'B18.100', I50: 'I50.900', F20: 'F20.900', J45: 'J45.900', N18: 'N18.500',
}

export function chronicVisit(g: GenCtx, p: GPerson, inst: GInst, t: number, rng: Rng, mdtrt_id: string, visitNo: number, o: { extra?: (v: Visit, t: number) => void; unregistered?: string[] } = {}): Visit {
  const w = g.world
  const diseases = o.unregistered ?? p.chronic
  const diagnoses = diseases.map((c, i) => dx(w, CHRONIC_DX[c] ?? `${c}.900`, i === 0))
  const doctor = w.pickDoctor(rng, inst, inst.level <= 1 ? DEPTS.general : DEPTS.internal)
  const v = new Visit(g, p, inst, '14', t, doctor.dept_codg ?? DEPTS.internal, doctor, diagnoses, mdtrt_id)
  consultFees(v, t + MIN)
  let tt = t + 10 * MIN
  for (const d of diseases) {
    if (d === 'E11') labs(v, visitNo % 3 === 0 ? ['glu', 'hba1c'] : ['glu'], tt)
    if (d === 'I10' && visitNo % 4 === 1) v.add(w.item('ecg'), tt + 5 * MIN, 1)
    if (d === 'B18' && visitNo % 3 === 0) labs(v, inst.level >= 2 ? ['liver', 'hbvdna'] : ['liver'], tt)
  }
  tt += 20 * MIN
  if (!o.unregistered) for (const d of diseases) for (const k of chronicRegimen(p, d)) rx(v, k, tt, 1, 30)
  o.extra?.(v, tt)
  emitVisit(v, { endtime: tt + rng.int(10, 30) * MIN, uploads: 'visit', rng })
  return v
}

/** One haemodialysis session (门诊慢特病 透析), its own visit. */
export function dialysisSession(g: GenCtx, p: GPerson, inst: GInst, t: number, rng: Rng, mdtrt_id: string, sessionNo: number, o: { fraud?: boolean } = {}): { visit: Visit; session?: LineRec } {
  const w = g.world
  const doctor = w.pickDoctor(rng, inst, DEPTS.internal)
  const v = new Visit(g, p, inst, '14', t, DEPTS.internal, doctor, [dx(w, 'N18.500', true), dx(w, 'Z49.100', false)], mdtrt_id)
  const item = sessionNo % 4 === 3 ? w.item('hdf') : w.item('hd')
  const session = v.add(item, t + 10 * MIN, 1, o.fraud ? { fraud: true } : {})
  v.add(w.item('dialyzer'), t + 10 * MIN, 1)
  v.add(w.item('dialysis_tubing'), t + 10 * MIN, 1)
  v.add(w.item('ns_250'), t + 10 * MIN, 2)
  if (sessionNo % 3 === 0) v.add(w.item('epo'), t + 3 * HOUR, 1)
  if (sessionNo % 12 === 0) labs(v, ['cbc', 'renal'], t + 5 * MIN)
  emitVisit(v, { endtime: t + 4 * HOUR + rng.int(10, 30) * MIN, uploads: 'visit', rng })
  return { visit: v, session }
}

// ------------------------------------------------------------------ inpatient

export interface DayCtx {
  v: Visit
  rng: Rng
  /** Day index from admission (0) to the day before discharge. */
  d: number
  los: number
  /** A time on this day at hh:mm, never before admission. */
  at(hh: number, mm?: number): number
  add(key: string, cnt: number, t: number): LineRec | undefined
}

export interface IptScenario {
  id: string
  principal: string
  /** DRG family (split by complication level, suffix 1/3/5) or a full group code. */
  group: string
  los: [number, number]
  minLevel: number
  where?: 'general' | 'maternity' | 'rehab' | 'lv3'
  dept: string
  med_type?: string
  weight(p: GPerson, age: number): number
  /** Optional secondary diagnoses and how often; their evidence is billed by SUPPORT. */
  secondaries?: [string, number][]
  day(c: DayCtx): void
  /** Operations: day index and code; their lines are added by `day`. */
  operations?: { d: number; code: string }[]
  discharge?(c: DayCtx): void
}

/** Lines that support a secondary diagnosis, day by day (DiagnosisRow.evidence_items names them). */
export const SUPPORT: Record<string, (c: DayCtx) => void> = {
  'J96.000': (c) => {
    if (c.d <= 3) c.add('oxygen', c.rng.int(8, 18), c.at(0, 30))
    if (c.d === 0) c.add('abg', 1, c.at(9))
  },
  'E11.900': (c) => {
    c.add('glu', 1, c.at(6, 40))
    c.add('glu', 1, c.at(16, 40))
    c.add('aspart', 1, c.at(7))
  },
  'E87.100': (c) => {
    if (c.d === 0 || c.d === 2) c.add('lytes', 1, c.at(7, 10))
  },
  'E87.600': (c) => {
    if (c.d === 0 || c.d === 2) c.add('lytes', 1, c.at(7, 10))
  },
  'I48.x00': (c) => {
    if (c.d === 0) c.add('ecg', 1, c.at(9, 20))
    if (c.d <= 1) c.add('ecg_monitor', 12, c.at(10))
  },
  'N17.900': (c) => {
    if (c.d % 2 === 0) c.add('renal', 1, c.at(7, 15))
  },
  'D64.900': (c) => {
    if (c.d === 2) c.add('cbc', 1, c.at(7, 20))
  },
  'A41.900': (c) => {
    if (c.d === 0) c.add('blood_culture', 1, c.at(9, 30))
    if (c.d % 2 === 0) c.add('crp', 1, c.at(7, 25))
  },
  'I50.900': (c) => {
    if (c.d === 0) c.add('bnp', 1, c.at(9, 40))
    if (c.d <= 2) c.add('furosemide', 2, c.at(8, 10))
  },
}

export const IPT: IptScenario[] = [
  {
    id: 'pneumonia', principal: 'J18.900', group: 'ES3', los: [6, 10], minLevel: 1, dept: DEPTS.internal,
    weight: (_p, a) => (a <= 13 ? 3 : a >= 60 ? 6 : 2),
    secondaries: [['E11.900', 0.15], ['J96.000', 0.08], ['E87.100', 0.06], ['A41.900', 0.03]],
    day(c) {
      const adultP = c.v.world.age(c.v.person, c.at(8)) >= 18
      if (c.d === 0) {
        labs(c.v, ['cbc', 'crp'], c.at(8, 30))
        if (!c.add('ct_chest', 1, c.at(10))) c.add('dr_chest', 1, c.at(10))
      }
      if (c.d === 3) labs(c.v, ['cbc'], c.at(7, 30))
      drip(c.v, adultP && c.v.person.idx % 3 === 0 ? 'levofloxacin_inj' : 'ceftriaxone', adultP ? 2 : 1, c.at(9))
      if (c.d < 4) c.add('ambroxol_inj', 2, c.at(15))
    },
    discharge(c) {
      rx(c.v, c.v.world.age(c.v.person, c.at(8)) >= 18 ? 'cefuroxime' : 'cefaclor_susp', c.at(8), 1, 5)
    },
  },
  {
    id: 'copd', principal: 'J44.100', group: 'ET2', los: [7, 11], minLevel: 1, dept: DEPTS.internal,
    weight: (_p, a) => (a >= 55 ? 4 : 0),
    secondaries: [['J96.000', 0.12], ['E11.900', 0.12], ['I48.x00', 0.06]],
    day(c) {
      if (c.d === 0) {
        labs(c.v, ['cbc', 'crp'], c.at(8, 30))
        c.add('abg', 1, c.at(9))
        c.add('dr_chest', 1, c.at(10))
      }
      c.add('nebulize', 1, c.at(9, 30))
      c.add('budesonide', 1, c.at(9, 30))
      if (c.d < 5) drip(c.v, 'ceftriaxone', 2, c.at(10))
      if (c.d < 3) c.add('oxygen', c.rng.int(6, 14), c.at(11))
    },
    discharge(c) {
      rx(c.v, 'salbutamol', c.at(8), 1, 30)
    },
  },
  {
    id: 'stroke', principal: 'I63.900', group: 'BR2', los: [10, 14], minLevel: 2, dept: DEPTS.internal,
    weight: (_p, a) => (a >= 45 ? (a >= 65 ? 5 : 2) : 0),
    secondaries: [['E11.900', 0.2], ['I48.x00', 0.1], ['J96.000', 0.04], ['E87.600', 0.06]],
    day(c) {
      if (c.d === 0) {
        c.add('ct_head', 1, c.at(9))
        labs(c.v, ['cbc', 'coag', 'lipid', 'glu'], c.at(8, 20))
      }
      if (c.d === 1) c.add('mri_head', 1, c.at(14))
      if (c.d === 0 || c.d === 7) {
        c.add('aspirin', 1, c.at(8))
        c.add('atorvastatin', 1, c.at(8))
      }
      if (c.d < 10) drip(c.v, c.d % 2 === 0 ? 'danhong' : 'xueshuantong', 2, c.at(9, 30))
      if (c.d >= 3) {
        c.add('pt_exercise', 1, c.at(14, 30))
        c.add('acupuncture', 1, c.at(10, 30))
      }
    },
    discharge(c) {
      rx(c.v, 'clopidogrel', c.at(8), 1, 28)
    },
  },
  {
    id: 'heart-failure', principal: 'I50.900', group: 'FR2', los: [8, 11], minLevel: 2, dept: DEPTS.internal,
    weight: (_p, a) => (a >= 60 ? 3 : 0),
    secondaries: [['I48.x00', 0.2], ['E87.600', 0.12], ['N17.900', 0.06]],
    day(c) {
      if (c.d === 0) {
        c.add('bnp', 1, c.at(9))
        c.add('ecg', 1, c.at(8, 45))
        labs(c.v, ['cbc', 'lytes', 'renal'], c.at(8, 30))
      }
      if (c.d < 4) c.add('furosemide', 2, c.at(8, 15))
      if (c.d < 3) {
        c.add('ecg_monitor', c.rng.int(10, 20), c.at(0, 20))
        c.add('oxygen', c.rng.int(6, 12), c.at(10, 30))
      }
      if (c.d < 6) drip(c.v, 'shenmai', 2, c.at(9, 30))
      if (c.d >= 4) c.add('metoprolol', 1, c.at(8))
    },
    discharge(c) {
      rx(c.v, 'digoxin', c.at(8), 1, 28)
    },
  },
  {
    id: 'pci', principal: 'I20.000', group: 'FM19', los: [5, 7], minLevel: 3, where: 'lv3', dept: DEPTS.internal,
    weight: (_p, a) => (a >= 45 ? 2 : 0),
    operations: [{ d: 1, code: '36.0601' }],
    day(c) {
      if (c.d === 0) {
        c.add('ecg', 1, c.at(8, 45))
        labs(c.v, ['myo', 'coag', 'cbc'], c.at(8, 30))
        c.add('clopidogrel', 1, c.at(9))
        c.add('aspirin', 1, c.at(9))
      }
      if (c.d === 1) {
        c.add('lidocaine', 1, c.at(9, 50))
        c.add('angio', 1, c.at(10))
        c.add('pci', 1, c.at(10, 40))
        c.v.addSurgical(c.v.world.item('stent'), c.at(10, 40), c.rng.chance(0.3) ? 2 : 1)
        c.add('ecg_monitor', 12, c.at(11, 30))
      }
      if (c.d >= 1) c.add('enoxaparin', 1, c.at(8, 30))
      if (c.d === 2) c.add('atorvastatin', 1, c.at(8))
    },
    discharge(c) {
      rx(c.v, 'clopidogrel', c.at(8), 1, 28)
    },
  },
  {
    id: 'cholecystectomy', principal: 'K80.100', group: 'HC2', los: [5, 7], minLevel: 2, dept: DEPTS.surgery,
    weight: (_p, a) => (a >= 30 ? 2 : 0),
    secondaries: [['E11.900', 0.12]],
    operations: [{ d: 1, code: '51.2301' }],
    day(c) {
      if (c.d === 0) {
        labs(c.v, ['cbc', 'liver', 'coag'], c.at(8, 30))
        c.add('bus', 1, c.at(9, 30))
        c.add('ecg', 1, c.at(10))
      }
      if (c.d === 1) {
        // The package includes anaesthesia and the dressing: clean billing never adds them.
        c.add('lc_pkg', 1, c.at(9))
        c.add('propofol', 2, c.at(9))
        c.add('suture', 1, c.at(10))
      }
      if (c.d >= 1 && c.d <= 2) drip(c.v, 'ceftriaxone', 2, c.at(14))
      if (c.d >= 2) c.add('dressing_l', 1, c.at(10, 30))
      if (c.d === 3) labs(c.v, ['liver'], c.at(7, 30))
    },
    discharge(c) {
      rx(c.v, 'omeprazole', c.at(8), 1, 7)
    },
  },
  {
    id: 'appendectomy', principal: 'K35.800', group: 'GD19', los: [4, 6], minLevel: 2, dept: DEPTS.surgery,
    weight: (_p, a) => (a >= 8 && a <= 60 ? 2 : 0),
    operations: [{ d: 0, code: '47.0901' }],
    day(c) {
      if (c.d === 0) {
        labs(c.v, ['cbc', 'crp'], c.at(0, 10))
        c.add('bus', 1, c.at(0, 20))
        c.add('ga', 1, c.at(0, 50))
        c.add('appendectomy', 1, c.at(1))
        c.add('propofol', 2, c.at(0, 50))
        if (c.rng.chance(0.3)) c.v.addSurgical(c.v.world.item('stapler'), c.at(1), 1)
      }
      if (c.d <= 2) drip(c.v, 'ceftriaxone', 2, c.at(14))
      if (c.d >= 1) c.add('dressing_m', 1, c.at(10))
    },
    discharge(c) {
      rx(c.v, 'cefuroxime', c.at(8), 1, 3)
    },
  },
  {
    id: 'hip-replacement', principal: 'M16.900', group: 'IC29', los: [10, 13], minLevel: 2, dept: DEPTS.surgery,
    weight: (_p, a) => (a >= 60 ? 1.5 : 0),
    operations: [{ d: 2, code: '81.5101' }],
    day(c) {
      if (c.d === 0) {
        c.add('dr_chest', 1, c.at(10))
        c.add('ecg', 1, c.at(9, 30))
        labs(c.v, ['cbc', 'coag'], c.at(8, 30))
      }
      if (c.d === 2) {
        c.add('ga', 1, c.at(9))
        c.add('thr', 1, c.at(9, 30))
        c.v.addSurgical(c.v.world.item('hip_prosthesis'), c.at(9, 30), 1)
      }
      if (c.d >= 2) c.add('enoxaparin', 1, c.at(8, 20))
      if (c.d >= 2 && c.d <= 4) drip(c.v, 'ceftriaxone', 2, c.at(14))
      if (c.d >= 5) c.add('pt_exercise', 1, c.at(15))
      if (c.d === 1 || c.d >= 3) c.add('calcium_d3', 1, c.at(8))
    },
    discharge(c) {
      rx(c.v, 'calcium_d3', c.at(8), 1, 14)
    },
  },
  {
    id: 'cataract', principal: 'H25.900', group: 'CB39', los: [2, 3], minLevel: 2, dept: DEPTS.ophthalmology,
    weight: (_p, a) => (a >= 60 ? 2 : 0),
    operations: [{ d: 1, code: '13.4101' }, { d: 1, code: '13.7001' }],
    day(c) {
      if (c.d === 0) {
        c.add('ecg', 1, c.at(9, 30))
        labs(c.v, ['cbc', 'coag'], c.at(8, 30))
      }
      if (c.d === 1) {
        c.add('lidocaine', 1, c.at(9))
        c.add('cataract', 1, c.at(9, 20))
        c.v.addSurgical(c.v.world.item('iol'), c.at(9, 20), 1)
      }
      if (c.d >= 1) c.add('tobradex', 1, c.at(15))
    },
    discharge(c) {
      rx(c.v, 'tobradex', c.at(8), 1, 14)
    },
  },
  {
    id: 'delivery', principal: 'O80.000', group: 'OF19', los: [2, 4], minLevel: 1, where: 'maternity', dept: DEPTS.obgyn, med_type: '52',
    weight: () => 0,
    operations: [{ d: 0, code: '73.5900' }],
    day(c) {
      if (c.d === 0) {
        c.add('fetal_hr', 1, c.at(0, 10))
        labs(c.v, ['cbc'], c.at(0, 20))
        c.add('vaginal', 1, c.at(2))
        c.add('oxytocin', 2, c.at(2))
      }
      if (c.d >= 1) c.add('im_inj', 1, c.at(9))
      if (c.d >= 1) c.add('oxytocin', 1, c.at(9))
    },
    discharge(c) {
      rx(c.v, 'yimucao', c.at(8), 1, 7)
    },
  },
  {
    id: 'caesarean', principal: 'O82.000', group: 'OB29', los: [4, 6], minLevel: 2, where: 'maternity', dept: DEPTS.obgyn, med_type: '52',
    weight: () => 0,
    operations: [{ d: 0, code: '74.1x01' }],
    day(c) {
      if (c.d === 0) {
        labs(c.v, ['cbc', 'coag'], c.at(0, 10))
        c.add('spinal', 1, c.at(1))
        c.add('csection', 1, c.at(1, 20))
        c.add('oxytocin', 2, c.at(1, 30))
        c.add('urinary_cath', 1, c.at(0, 55))
      }
      if (c.d <= 2) drip(c.v, 'ceftriaxone', 2, c.at(14))
      if (c.d >= 1) c.add('dressing_m', 1, c.at(10))
    },
    discharge(c) {
      rx(c.v, 'yimucao', c.at(8), 1, 7)
    },
  },
  {
    id: 'diabetes', principal: 'E11.900', group: 'KS1', los: [7, 10], minLevel: 1, dept: DEPTS.internal,
    weight: (_p, a) => (a >= 40 ? 2 : 0),
    secondaries: [['E87.100', 0.1], ['I48.x00', 0.05]],
    day(c) {
      if (c.d === 0) labs(c.v, ['hba1c', 'liver', 'renal', 'lipid', 'urine'], c.at(7, 30))
      // The same test three times a day at different times: a near miss for duplicate checks.
      c.add('glu', 1, c.at(6, 30))
      c.add('glu', 1, c.at(10, 30))
      c.add('glu', 1, c.at(16, 30))
      c.add('aspart', 1, c.at(7))
      if (c.d === 0 || c.d === 5) c.add('metformin', 1, c.at(8))
    },
    discharge(c) {
      rx(c.v, 'metformin', c.at(8), 1, 14)
    },
  },
  {
    id: 'rehab', principal: 'I69.300', group: 'XR19', los: [14, 18], minLevel: 2, where: 'rehab', dept: DEPTS.rehab,
    weight: (_p, a) => (a >= 50 ? 1.5 : 0),
    day(c) {
      if (c.d === 0) {
        labs(c.v, ['cbc', 'lipid'], c.at(8, 30))
        c.add('aspirin', 1, c.at(8))
        c.add('atorvastatin', 1, c.at(8))
      }
      // Therapy every day, drugs only weekly: days with treatment but no drug are not idle (a bed-holding near miss).
      c.add('pt_exercise', 1, c.at(9))
      c.add('ot', 1, c.at(10))
      c.add('acupuncture', 1, c.at(14))
      if (c.d % 2 === 0) c.add('mf_elec', 1, c.at(15))
      if (c.d === 7) {
        c.add('aspirin', 1, c.at(8))
        c.add('atorvastatin', 1, c.at(8))
      }
    },
    discharge(c) {
      rx(c.v, 'xuesaitong', c.at(8), 1, 28)
    },
  },
]

const CHEMO: IptScenario = {
  id: 'chemo', principal: 'Z51.100', group: 'RE1', los: [3, 4], minLevel: 2, dept: DEPTS.oncology, weight: () => 0,
  day(c) {
    if (c.d === 0) labs(c.v, ['cbc', 'liver', 'renal'], c.at(8, 30))
    if (c.d === 1) {
      c.add('chemo_iv', 1, c.at(9))
      const breast = c.v.diagnoses.some((d) => d.diag_code.startsWith('C50'))
      if (breast && c.v.inst.level >= 3) c.add('trastuzumab', 1, c.at(9, 30))
      c.add(breast ? 'paclitaxel' : 'cisplatin', breast ? 2 : 3, c.at(9, 30))
      c.add('ns_250', 2, c.at(9, 30))
      c.add('iv_drip', 1, c.at(9, 30))
      c.add('iv_extra', 1, c.at(11))
      c.add('ondansetron', 2, c.at(9))
    }
    if (c.d >= 2) c.add('ondansetron', 1, c.at(9))
  },
  discharge(c) {
    labs(c.v, ['cbc'], c.at(7, 30))
  },
}
export const CHEMO_SCENARIO = CHEMO

const DIALYSIS_ADMISSION: IptScenario = {
  id: 'dialysis-admission', principal: 'Z49.100', group: 'LL19', los: [2, 3], minLevel: 2, dept: DEPTS.internal, weight: () => 0,
  day(c) {
    if (c.d === 0) {
      labs(c.v, ['renal', 'lytes'], c.at(8, 30))
      c.add('hd', 1, c.at(10))
      c.add('dialyzer', 1, c.at(10))
      c.add('dialysis_tubing', 1, c.at(10))
    }
    if (c.d === 2) {
      c.add('hd', 1, c.at(10))
      c.add('dialyzer', 1, c.at(10))
      c.add('dialysis_tubing', 1, c.at(10))
    }
    c.add('calcitriol', 1, c.at(8))
  },
  discharge(c) {
    labs(c.v, ['renal'], c.at(7, 30))
  },
}
export const DIALYSIS_ADMISSION_SCENARIO = DIALYSIS_ADMISSION

export function pickInpatient(rng: Rng, p: GPerson, age: number): IptScenario | undefined {
  const options = IPT.map((s) => [s, s.weight(p, age)] as const).filter(([, wt]) => wt > 0)
  return options.length ? rng.weighted(options) : undefined
}

export function iptInstitution(rng: Rng, p: GPerson, s: IptScenario): GInst | undefined {
  const r = p.region
  let pool: GInst[]
  if (s.where === 'maternity') pool = [...r.maternity, ...r.general.filter((i) => i.level >= Math.max(2, s.minLevel))]
  else if (s.where === 'rehab') pool = [...r.rehab, ...r.general.filter((i) => i.row.therapists >= 4)]
  else if (s.where === 'lv3') pool = r.general.filter((i) => i.level >= 3)
  else pool = [...r.general.filter((i) => i.level >= s.minLevel), ...(s.minLevel <= 1 ? r.clinics.filter((i) => i.level === 1 && i.row.beds > 0) : [])]
  if (pool.length === 0) return undefined
  if (p.hospital && pool.includes(p.hospital) && rng.chance(0.6)) return p.hospital
  return rng.pick(pool)
}

export interface InpatientOpts {
  secondaries?: string[]
  dscg_way?: string
  /** Days from which no treatment, drug or test is billed (bed-holding). */
  idleFrom?: number
  /** Secondary diagnoses coded without their supporting lines (upcoding). */
  unsupported?: string[]
  /** Extra work on a day (fraud lines, extra nursing …). */
  extra?: (c: DayCtx) => void
  /** Hours of the discharge on the last day (default 9:30–11:00). */
  dischargeAt?: number
  /** Extra lines after all days (phantom lines after discharge etc.); returns nothing. */
  after?: (v: Visit, endtime: number) => void
  skipDischargeMeds?: boolean
  /**
   * Bed days billed ahead: one bed line for each of this many planned days
   * (default: the stay's), all uploaded at admission. More than `los` is a
   * stay that ended before the days billed for it.
   */
  preBilledBedDays?: number
}

export interface InpatientResult {
  visit: Visit
  closed: Closed
  endtime: number
  group?: string
}

/** An inpatient stay: daily bed, nursing and ward round, the scenario's care, discharge meds, DRG group, settlement. */
export function inpatientStay(g: GenCtx, p: GPerson, inst: GInst, begntime: number, los: number, s: IptScenario, rng: Rng, mdtrt_id: string, o: InpatientOpts = {}): InpatientResult {
  const w = g.world
  const doctor = w.pickDoctor(rng, inst, inst.byDept.has(s.dept) ? s.dept : undefined)
  const secondaries = o.secondaries ?? []
  const diagnoses = [dx(w, s.principal, true), ...secondaries.map((c) => dx(w, c, false))]
  const maternity = s.med_type === '52' && p.insutype === '310'
  const v = new Visit(g, p, inst, maternity ? '52' : '21', begntime, doctor.dept_codg ?? s.dept, doctor, diagnoses, mdtrt_id)
  const day0 = dayStartOf(begntime)
  const mk = (d: number): DayCtx => ({
    v, rng, d, los,
    at: (hh, mm = 0) => Math.max(begntime + 10 * MIN, day0 + d * DAY_MS + hh * HOUR + mm * MIN),
    add: (key, cnt, t) => v.add(w.item(key), t, cnt),
  })
  const bed = p.idx % 5 === 0 ? 'bed_2' : 'bed_3'
  const morningOf = (d: number): number => (d === 0 ? begntime + 15 * MIN : day0 + d * DAY_MS + 5 * MIN)
  for (let d = 0; d < los; d++) {
    const c = mk(d)
    const morning = morningOf(d)
    v.add(w.item(bed), morning, 1)
    v.add(w.item(d < 2 && los >= 6 ? 'nurse_1' : 'nurse_2'), morning + MIN, 1)
    v.add(w.item('ward_round'), c.at(8, 30), 1)
    if (o.idleFrom === undefined || d < o.idleFrom) {
      s.day(c)
      for (const sec of secondaries) if (!o.unsupported?.includes(sec)) SUPPORT[sec]?.(c)
    }
    o.extra?.(c)
  }
  const beyond = new Set<LineRec | undefined>()
  for (let d = los; d < (o.preBilledBedDays ?? 0); d++) beyond.add(v.add(w.item(bed), morningOf(d), 1))
  const last = mk(los)
  if (!o.skipDischargeMeds && (o.idleFrom === undefined || los < o.idleFrom)) s.discharge?.(last)
  let endtime = day0 + los * DAY_MS + (o.dischargeAt ?? 9.5 + rng.next() * 1.5) * HOUR
  // Bed lines billed for planned days past the discharge do not move it.
  const lastLine = v.lines.reduce((m, l) => (beyond.has(l) ? m : Math.max(m, l.t)), begntime)
  if (lastLine >= endtime && lastLine < day0 + (los + 1) * DAY_MS) endtime = lastLine + 30 * MIN
  o.after?.(v, endtime)

  // Clean coding: a secondary diagnosis whose evidence never got billed is dropped (it would be unsupported).
  const billed = new Set(v.lines.map((l) => l.item.med_list_codg))
  const kept = v.diagnoses.filter((d) => {
    if (d.maindiag_flag === '1' || o.unsupported?.includes(d.diag_code)) return true
    const row = w.kb.diagnoses.find((r) => r.diag_code === d.diag_code)
    if (!row || row.cc === 'none' || row.evidence_items.length === 0) return true
    return row.evidence_items.some((c) => billed.has(c))
  })
  v.diagnoses = kept
  const group = groupFor(w, s, kept)
  const ops = (s.operations ?? []).map((op) => ({ code: op.code, t: Math.max(begntime, day0 + op.d * DAY_MS + 10 * HOUR) }))
  const closed = emitVisit(v, {
    endtime, dscg_way: o.dscg_way ?? '1', uploads: 'day', rng, operations: ops,
    ...(o.preBilledBedDays !== undefined ? { ahead: (l: LineRec) => l.item.med_chrgitm_type === '01' } : {}),
    ...(group ? { payGrp: { type: 'DRG' as const, code: group.code, weight: group.weight } } : {}),
  })
  return { visit: v, closed, endtime, ...(group ? { group: group.code } : {}) }
}

/** The DRG group: the scenario's family and the highest complication level among secondary diagnoses. */
export function groupFor(w: World, s: IptScenario, diagnoses: readonly Diagnosis[]): { code: string; weight: number } | undefined {
  const find = (code: string): { code: string; weight: number } | undefined => {
    const g = w.kb.groups.find((r) => r.code === code)
    return g ? { code: g.code, weight: g.weight } : undefined
  }
  if (s.group.length >= 4) return find(s.group)
  let level = 0
  for (const d of diagnoses) {
    if (d.maindiag_flag === '1') continue
    const row = w.kb.diagnoses.find((r) => r.diag_code === d.diag_code)
    if (row?.cc === 'MCC') level = Math.max(level, 2)
    else if (row?.cc === 'CC') level = Math.max(level, 1)
  }
  return find(`${s.group}${level === 2 ? '1' : level === 1 ? '3' : '5'}`) ?? find(`${s.group}5`)
}
