import { z } from 'zod'
import { defineDetector } from '../../src/detect/types.ts'
import { ageOn } from '../../src/kb/knowledge-base.ts'
import { NO_FINDINGS, REGULATION, findingsByItem, text, type LineJudgement } from '../_shared/common.ts'
import { touchedLines } from '../_shared/visit-index.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  check_gender: z.boolean().default(true).describe('Flag items restricted to one gender (catalog gend) billed for a person of the other').meta({ description_zh: '目录限定性别(gend)的项目为另一性别的参保人计费的，予以标记' }),
  check_age: z.boolean().default(true).describe('Flag items billed outside the catalog age_min/age_max (限年龄, 限儿童)').meta({ description_zh: '在目录 age_min/age_max 之外计费的项目(限年龄、限儿童)，予以标记' }),
  check_hosp_level: z.boolean().default(true).describe('Flag items billed at an institution below the catalog min_hosp_lv (限医院等级); ungraded counts as level 1').meta({ description_zh: '在低于目录最低医院等级(min_hosp_lv)的机构计费的项目(限医院等级)，予以标记；未定级按一级计' }),
  age_tolerance_years: z.number().int().min(0).max(10).default(0)
    .describe('Years of slack on both age bounds, for registries that round ages or catalogs that state them loosely').meta({ description_zh: '年龄上下限各放宽的年数，用于年龄取整的登记库或表述宽松的目录' }),
}).strict()

const GENDER = { '1': ['男', 'male'], '2': ['女', 'female'] } as const

export default defineDetector({
  kind: 'stream',
  id: 'restricted-item',
  version: '2.0.0',
  title: text('限性别/限年龄/限医院等级项目违规', 'Gender-, age- or level-restricted item'),
  pattern: text('限性别/限年龄/限医院等级', 'Gender, age or institution-level restricted item'),
  description: text(
    '目录限定性别、年龄(含限儿童)或最低医院等级的药品、项目，为不符合条件的参保人或在等级不足的机构计费。',
    'An item whose catalog entry restricts gender, age (incl. children only) or minimum institution level, billed for a person or at an institution outside the restriction.',
  ),
  stages: ['pre', 'in'],
  scenarios: ['outpatient', 'inpatient', 'pharmacy', 'chronic', 'maternity', 'remote'],
  result: 'violation',
  severity: 'medium',
  basis: text(
    `${REGULATION}第三十八条第(六)项：将不属于医疗保障基金支付范围的医药费用纳入基金结算；《基本医疗保险用药管理暂行办法》及医保药品目录"限…"支付范围；医疗服务项目目录的性别、年龄、医院等级限定。`,
    `${REGULATION} art. 38(6): settling costs outside the fund's payment scope; the catalog restrictions (限性别, 限年龄/限儿童, 限医院等级) of the national drug and service catalogs.`,
  ),
  params,
  evidence: evidenceLabels('restrictions', 'checks', 'restriction', 'min_hosp_lv', 'institution_level', 'med_list_codg', 'name', 'fixmedins_code', 'lines_flagged', 'lines', 'feedetl_sn', 'fee_ocur_time', 'cnt', 'pric', 'amount', 'bilg_dr_codg', 'bilg_dept_codg', 'age_min', 'age_max', 'age', 'brdy', 'tolerance_years', 'prd_days', 'required', 'person_gend'),
  reactsTo: ['fee.uploaded'],
  detect(ctx, p) {
    const visit = ctx.visit
    if (ctx.event.event_type !== 'fee.uploaded' || visit === undefined) return NO_FINDINGS

    // Person facts: the claim's own psn block first, the platform registry as fallback.
    const registered = ctx.kb.persons.get(visit.psn_no)
    const gend = knownGender(ctx.person?.gend) ?? knownGender(registered?.gend)
    const brdy = ctx.person?.brdy || registered?.brdy
    const inst = ctx.kb.institutions.get(visit.fixmedins_code)
    const level = inst === undefined ? undefined : Math.max(inst.level, 1)

    // Every line of the items the upload brings: one finding per item lists them all.
    const judged: LineJudgement[] = []
    for (const l of touchedLines(ctx, visit)) {
      const item = ctx.kb.catalog.get(l.med_list_codg)
      // Most items carry no restriction: skip them before any further work.
      if (item === undefined || (item.gend === undefined && item.age_min === undefined && item.age_max === undefined && item.min_hosp_lv === undefined)) continue

      const broken: Record<string, unknown>[] = []
      const zh: string[] = []
      const en: string[] = []
      if (p.check_gender && item.gend !== undefined && gend !== undefined && gend !== item.gend) {
        broken.push({ restriction: 'gender', required: item.gend, person_gend: gend })
        zh.push(`限${GENDER[item.gend][0]}性使用，参保人为${GENDER[gend][0]}性`)
        en.push(`restricted to ${GENDER[item.gend][1]} patients, the person is ${GENDER[gend][1]}`)
      }
      if (p.check_age && brdy !== undefined && (item.age_min !== undefined || item.age_max !== undefined)) {
        const age = ageOn(brdy, l.fee_ocur_time)
        const tooYoung = item.age_min !== undefined && age < item.age_min - p.age_tolerance_years
        const tooOld = item.age_max !== undefined && age > item.age_max + p.age_tolerance_years
        if (tooYoung || tooOld) {
          const range = ageRange(item.age_min, item.age_max)
          broken.push({ restriction: 'age', age_min: item.age_min, age_max: item.age_max, age, brdy, tolerance_years: p.age_tolerance_years })
          zh.push(`限${range.zh}使用，参保人费用发生时 ${age} 岁`)
          en.push(`restricted to ${range.en}, the person was ${age}`)
        }
      }
      if (p.check_hosp_level && item.min_hosp_lv !== undefined && level !== undefined && level < item.min_hosp_lv) {
        broken.push({ restriction: 'hosp_level', min_hosp_lv: item.min_hosp_lv, institution_level: inst!.level })
        zh.push(`限${item.min_hosp_lv}级及以上医院使用，本机构为${inst!.level === 0 ? '未定级' : `${inst!.level}级`}`)
        en.push(`restricted to level ${item.min_hosp_lv}+ institutions, this one is ${inst!.level === 0 ? 'ungraded' : `level ${inst!.level}`}`)
      }
      if (broken.length === 0) continue

      judged.push({
        line: l,
        amount: l.amount,
        message: text(`${item.name}(${item.med_list_codg})：${zh.join('；')}`, `${item.med_list_codg} (${item.name}): ${en.join('; ')}`),
        evidence: {
          restrictions: broken.map((b) => b['restriction']), checks: broken, med_list_codg: item.med_list_codg, name: item.name,
          ...(inst ? { fixmedins_code: inst.fixmedins_code, institution_level: inst.level } : {}),
        },
      })
    }
    return findingsByItem(visit, judged, 'restriction')
  },
})

/** "18–60岁", "18岁及以上", "17岁及以下": an open bound is said in words, never as ∞. */
function ageRange(min: number | undefined, max: number | undefined): { zh: string; en: string } {
  if (min !== undefined && max !== undefined) return text(`${min}–${max}岁`, `ages ${min}–${max}`)
  if (min !== undefined) return text(`${min}岁及以上`, `ages ${min} and over`)
  return text(`${max ?? 0}岁及以下`, `ages ${max ?? 0} and under`)
}

/** 0 未知 and 9 未说明 cannot conflict with a gender restriction. */
function knownGender(g: string | undefined): '1' | '2' | undefined {
  return g === '1' || g === '2' ? g : undefined
}
