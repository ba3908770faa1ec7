import { describe, expect, it } from 'vitest'
import { KB_FILES } from '../../schemas/kb.ts'
import { kbFromRows } from '../../src/kb/loader.ts'
import { REGIONS, sampleKnowledgeBase } from '../../src/kb/sample.ts'

const kb = sampleKnowledgeBase()
const cat = kb.catalog
const byName = (s: string) => cat.find((c) => c.name === s) ?? cat.find((c) => c.name.includes(s))

describe('sample knowledge base', () => {
  it('passes the KB schemas row by row', () => {
    for (const [table, schema] of Object.entries(KB_FILES)) {
      for (const row of kb[table as keyof typeof kb]) expect(schema.safeParse(row).success, `${table} ${JSON.stringify(row)}`).toBe(true)
    }
    expect(() => kbFromRows(kb)).not.toThrow()
  })

  it('is deterministic per seed; the catalog does not depend on it', () => {
    expect(sampleKnowledgeBase(1)).toEqual(sampleKnowledgeBase(1))
    const other = sampleKnowledgeBase(2)
    expect(other.catalog).toEqual(kb.catalog)
    expect(other.doctors.map((d) => d.name)).not.toEqual(kb.doctors.map((d) => d.name))
  })

  it('has at least 150 catalog items of every list type, with unique national codes in the national formats', () => {
    expect(cat.length).toBeGreaterThanOrEqual(150)
    expect(new Set(cat.map((c) => c.med_list_codg)).size).toBe(cat.length)
    const drugs = cat.filter((c) => c.list_type === 'drug')
    expect(drugs.filter((c) => c.med_chrgitm_type === '09').every((c) => /^X[A-Z]\d{2}[A-Z]{2}E\d{3}A\d{12}$/.test(c.med_list_codg))).toBe(true)
    expect(drugs.filter((c) => c.med_chrgitm_type === '11').length).toBeGreaterThan(10)
    expect(cat.filter((c) => c.list_type === 'herb').length).toBeGreaterThan(10)
    expect(cat.filter((c) => c.list_type === 'service').every((c) => /^\d{15}$/.test(c.med_list_codg))).toBe(true)
    expect(cat.filter((c) => c.list_type === 'consumable').every((c) => /^C\d{19}$/.test(c.med_list_codg))).toBe(true)
    expect(cat.filter((c) => c.list_type === 'service').length).toBeGreaterThan(50)
  })

  it('caps prices lv3 ≥ lv2 ≥ lv1, and leaves a level unpriced below an item\'s minimum level', () => {
    for (const c of cat) {
      const [l1, l2, l3] = [c.price_cap_lv1, c.price_cap_lv2, c.price_cap_lv3].map((x) => (x === undefined ? undefined : Number(x)))
      expect(l1 ?? l2 ?? l3, c.name).toBeDefined()
      if (l2 !== undefined && l3 !== undefined) expect(l3).toBeGreaterThanOrEqual(l2)
      if (l1 !== undefined && l2 !== undefined) expect(l2).toBeGreaterThanOrEqual(l1)
      if (c.min_hosp_lv === 3) expect([c.price_cap_lv1, c.price_cap_lv2]).toEqual([undefined, undefined])
      if (c.min_hosp_lv === 2) expect(c.price_cap_lv1).toBeUndefined()
    }
    expect(cat.some((c) => c.price_cap_lv1 !== undefined && Number(c.price_cap_lv1) < Number(c.price_cap_lv3))).toBe(true)
    // 一般诊疗费 is a primary-care fee: priced only at level 1 and ungraded clinics.
    const gp = byName('一般诊疗费')!
    expect([gp.price_cap_lv1, gp.price_cap_lv2, gp.price_cap_lv3]).toEqual(['10.00', undefined, undefined])
  })

  it('carries every restriction the patterns need', () => {
    expect(cat.filter((c) => c.gend === '2').map((c) => c.name)).toEqual(expect.arrayContaining(['产前检查', '阴道分娩', '剖宫产术']))
    expect(cat.filter((c) => c.gend === '1').map((c) => c.name)).toEqual(expect.arrayContaining(['盐酸坦索罗辛缓释胶囊', '前列腺特异性抗原测定']))
    expect(cat.filter((c) => c.age_max === 17).length).toBeGreaterThanOrEqual(4)
    expect(cat.some((c) => c.age_min !== undefined && c.age_min >= 50)).toBe(true)
    expect(cat.some((c) => c.min_hosp_lv === 2) && cat.some((c) => c.min_hosp_lv === 3)).toBe(true)
    expect(cat.filter((c) => c.indications.length > 0 && !c.chronic_only).length).toBeGreaterThanOrEqual(8)
    expect(cat.filter((c) => c.max_cnt_per_day !== undefined).length).toBeGreaterThan(10)
    expect(cat.filter((c) => c.list_type === 'drug' && c.max_prd_days !== undefined).length).toBeGreaterThan(40)
    // Bundles: the blood count panel includes its components; the surgery package its anaesthesia and dressing.
    const codes = new Set(cat.map((c) => c.med_list_codg))
    for (const c of cat) for (const inc of c.includes) expect(codes.has(inc)).toBe(true)
    const cbc = byName('全血细胞计数')!
    expect(cbc.includes.map((code) => cat.find((c) => c.med_list_codg === code)!.name)).toEqual(['白细胞计数', '红细胞计数', '血红蛋白测定', '血小板计数'])
    const pkg = byName('腹腔镜胆囊切除术')!
    expect(pkg.includes.map((code) => cat.find((c) => c.med_list_codg === code)!.name)).toEqual(['全身麻醉', '中换药'])
    const nursing = cat.filter((c) => c.exclusive_group === 'nursing_level')
    expect(nursing.map((c) => c.name)).toEqual(['一级护理', '二级护理', '三级护理'])
    expect(nursing.every((c) => c.med_chrgitm_type === '07' && c.time_unit === 'day')).toBe(true)
    expect(byName('心电监护')!.time_unit).toBe('hour')
    expect(byName('吸氧')!.time_unit).toBe('hour')
    expect(cat.filter((c) => c.med_chrgitm_type === '01').every((c) => c.time_unit === 'day' && c.name.includes('床位费'))).toBe(true)
    const hv = cat.filter((c) => c.high_value)
    expect(hv.length).toBeGreaterThanOrEqual(4)
    expect(hv.every((c) => c.oprn_prefixes.length > 0 && c.list_type === 'consumable')).toBe(true)
    expect(byName('主任医师门诊诊查费')!.required_title).toBe('chief')
    expect(byName('副主任医师门诊诊查费')!.required_title).toBe('associate_chief')
    const chronic = cat.filter((c) => c.chronic_only)
    expect(chronic.length).toBeGreaterThanOrEqual(4)
    expect(chronic.every((c) => c.indications.length > 0)).toBe(true)
    expect(chronic.flatMap((c) => c.indications)).toEqual(expect.arrayContaining(['E11', 'N18']))
    expect(cat.filter((c) => c.dialysis).map((c) => c.name)).toEqual(['血液透析', '血液透析滤过'])
    expect(cat.filter((c) => c.therapist_minutes !== undefined).length).toBeGreaterThanOrEqual(3)
  })

  it('has at least 60 institutions in the seed regions, of every kind, level and type, with codes of their region', () => {
    const inst = kb.institutions
    expect(inst.length).toBeGreaterThanOrEqual(60)
    expect(new Set(inst.map((i) => i.fixmedins_code)).size).toBe(inst.length)
    for (const r of REGIONS) {
      const here = inst.filter((i) => i.admdvs.slice(0, 4) === r.admdvs.slice(0, 4))
      expect(here.length, r.name).toBeGreaterThanOrEqual(8)
      for (const i of here) {
        expect(Math.abs(i.lat - r.lat)).toBeLessThan(0.5)
        expect(Math.abs(i.lon - r.lon)).toBeLessThan(0.5)
      }
    }
    for (const i of inst) {
      expect(i.fixmedins_code).toMatch(i.kind === 'pharmacy' ? /^P\d{11}$/ : /^H\d{11}$/)
      expect(i.fixmedins_code.slice(1, 7)).toBe(i.admdvs)
    }
    expect(new Set(inst.map((i) => i.kind))).toEqual(new Set(['hospital', 'clinic', 'pharmacy']))
    expect(new Set(inst.map((i) => i.level))).toEqual(new Set([0, 1, 2, 3]))
    expect(new Set(inst.map((i) => i.type))).toEqual(new Set(['综合医院', '中医医院', '专科医院', '基层医疗机构', '诊所', '药店']))
    expect(inst.filter((i) => i.level === 3).every((i) => i.beds >= 800 && i.therapists > 0)).toBe(true)
  })

  it('staffs every institution with registered doctors; level-3 hospitals have chiefs and associate chiefs', () => {
    const byInst = new Map<string, typeof kb.doctors>()
    for (const d of kb.doctors) byInst.set(d.fixmedins_code, [...(byInst.get(d.fixmedins_code) ?? []), d])
    expect(new Set(kb.doctors.map((d) => d.dr_code)).size).toBe(kb.doctors.length)
    for (const i of kb.institutions) {
      const ds = byInst.get(i.fixmedins_code) ?? []
      expect(ds.length, i.name).toBeGreaterThan(0)
      if (i.level === 3) expect(new Set(ds.map((d) => d.title))).toEqual(new Set(['chief', 'associate_chief', 'attending', 'resident']))
    }
  })

  it('has DRG groups at three complication levels and diagnoses with CC/MCC flags, chronic flags and evidence items', () => {
    const es = kb.groups.filter((g) => g.code.startsWith('ES3'))
    expect(es.map((g) => g.cc)).toEqual(['MCC', 'CC', 'none'])
    expect(es[0]!.weight).toBeGreaterThan(es[1]!.weight)
    expect(es[1]!.weight).toBeGreaterThan(es[2]!.weight)
    expect(kb.groups.every((g) => g.avg_los_days > 0)).toBe(true)
    expect(kb.diagnoses.some((d) => d.cc === 'MCC') && kb.diagnoses.some((d) => d.cc === 'CC')).toBe(true)
    expect(kb.diagnoses.filter((d) => d.chronic).map((d) => d.diag_code.slice(0, 3))).toEqual(expect.arrayContaining(['I10', 'E11', 'N18']))
    const codes = new Set(cat.map((c) => c.med_list_codg))
    for (const d of kb.diagnoses) {
      for (const e of d.evidence_items) expect(codes.has(e)).toBe(true)
      if (d.cc !== 'none') expect(d.evidence_items.length, d.name).toBeGreaterThan(0)
    }
  })

  it('registers a few persons with chronic diseases and death dates', () => {
    expect(kb.persons.some((p) => p.death_date !== undefined)).toBe(true)
    expect(kb.persons.some((p) => p.chronic_diseases.includes('E11'))).toBe(true)
  })
})
