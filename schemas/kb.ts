import { z } from 'zod'
import { Admdvs, DateOnly, DiagCode, DoctorCode, FixmedinsCode, Gend, ListCode, ListType, MedChrgitmType, Money, PsnNo } from './common.ts'

// Reference data rows (the knowledge base, 知识库). Files are JSON lines (one row
// a line) or CSV with a header; in CSV, list fields are separated by "|".

export const InstitutionLevel = z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)])
  .describe('医院等级: 3 三级, 2 二级, 1 一级及以下, 0 not graded (pharmacies)')

export const CatalogItem = z.object({
  med_list_codg: ListCode,
  name: z.string().min(1).describe('Name (zh)'),
  list_type: ListType,
  med_chrgitm_type: MedChrgitmType,
  chrgitm_lv: z.enum(['甲', '乙', '丙']).describe('Payment class: 甲 fully covered, 乙 partly, 丙 self-pay'),
  unit: z.string().default('次'),
  price_cap_lv1: Money.optional().describe('Price cap at level-1 (and ungraded) institutions'),
  price_cap_lv2: Money.optional(),
  price_cap_lv3: Money.optional(),
  gend: z.enum(['1', '2']).optional().describe('Only for this gender (限性别)'),
  age_min: z.number().int().min(0).max(150).optional().describe('Minimum age in whole years (inclusive)'),
  age_max: z.number().int().min(0).max(150).optional().describe('Maximum age in whole years (inclusive), e.g. 17 for 限儿童'),
  min_hosp_lv: z.number().int().min(1).max(3).optional().describe('Minimum institution level (限医院等级)'),
  indications: z.array(z.string().regex(/^[A-Z]\d{0,2}/)).default([]).describe('Allowed diagnosis code prefixes (限适应症); empty = unrestricted'),
  max_cnt_per_day: z.number().positive().optional().describe('Maximum quantity per day'),
  max_prd_days: z.number().int().positive().optional().describe('Maximum days of supply per prescription'),
  includes: z.array(ListCode).default([]).describe('Codes this item bundles (分解收费 if billed together)'),
  exclusive_group: z.string().optional().describe('Items sharing a group are mutually exclusive on one day (一级护理/二级护理)'),
  time_unit: z.enum(['hour', 'day']).optional().describe('Time-based item: billed per hour or per day'),
  high_value: z.boolean().default(false).describe('High-value consumable (高值耗材)'),
  oprn_prefixes: z.array(z.string()).default([]).describe('A matching operation code prefix is required'),
  required_title: z.enum(['chief', 'associate_chief', 'attending', 'resident']).optional().describe('Minimum doctor title to bill it (e.g. 主任医师诊查费)'),
  chronic_only: z.boolean().default(false).describe('Drug for registered chronic diseases (门诊慢特病); indications name them'),
  dialysis: z.boolean().default(false).describe('A haemodialysis session item'),
  therapist_minutes: z.number().int().positive().optional()
    .describe('Therapist time one unit takes (康复/理疗); with institutions.therapists it bounds what a day can hold (超服务能力)'),
})

export const Institution = z.object({
  fixmedins_code: FixmedinsCode,
  name: z.string().min(1),
  kind: z.enum(['hospital', 'clinic', 'pharmacy']),
  level: InstitutionLevel,
  type: z.string().min(1).describe('综合医院, 中医医院, 专科医院, 基层医疗机构, 药店 …'),
  admdvs: Admdvs,
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  beds: z.number().int().min(0).default(0),
  therapists: z.number().int().min(0).default(0),
})

export const DoctorTitle = z.enum(['chief', 'associate_chief', 'attending', 'resident'])
  .describe('chief 主任医师, associate_chief 副主任医师, attending 主治医师, resident 住院医师')
export const Doctor = z.object({
  dr_code: DoctorCode,
  fixmedins_code: FixmedinsCode,
  name: z.string().min(1),
  title: DoctorTitle,
  dept_codg: z.string().optional(),
})

export const Person = z.object({
  psn_no: PsnNo,
  gend: Gend,
  brdy: DateOnly,
  death_date: DateOnly.optional(),
  chronic_diseases: z.array(z.string()).default([]).describe('Registered 门诊慢特病 diagnosis code prefixes'),
  insuplc_admdvs: Admdvs.optional(),
})

export const PayGroupRow = z.object({
  type: z.enum(['DRG', 'DIP']),
  code: z.string().min(1),
  name: z.string().min(1),
  weight: z.number().positive(),
  avg_los_days: z.number().positive().describe('Average length of stay of the group'),
  base_diag_prefix: z.string().optional(),
  cc: z.enum(['none', 'CC', 'MCC']).optional()
    .describe('Complication level the group requires (CHS-DRG suffix 1 = MCC, 3 = CC, 5 = none); what a CC/MCC secondary diagnosis lifts a case into'),
})

export const DiagnosisRow = z.object({
  diag_code: DiagCode.or(z.string().regex(/^[A-Z]\d{2}/)),
  name: z.string().min(1),
  cc: z.enum(['none', 'CC', 'MCC']).default('none'),
  chronic: z.boolean().default(false),
  evidence_items: z.array(ListCode).default([])
    .describe('Catalog codes whose presence on a visit supports this diagnosis (吸氧 for 呼吸衰竭); a CC/MCC with none of them billed is unsupported (高套病种)'),
})

export type CatalogItem = z.infer<typeof CatalogItem>
export type Institution = z.infer<typeof Institution>
export type Doctor = z.infer<typeof Doctor>
export type Person = z.infer<typeof Person>
export type PayGroupRow = z.infer<typeof PayGroupRow>
export type DiagnosisRow = z.infer<typeof DiagnosisRow>

export const KB_FILES = {
  catalog: CatalogItem,
  institutions: Institution,
  doctors: Doctor,
  persons: Person,
  groups: PayGroupRow,
  diagnoses: DiagnosisRow,
} as const
export type KbKind = keyof typeof KB_FILES
