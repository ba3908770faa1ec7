import { z } from 'zod'
import { FixmedinsCode } from './common.ts'
import { NationalRequestEnvelope, NationalResponseEnvelope } from './national.ts'

/**
 * 3103 事前事中服务反馈服务: the institution's answer to the warnings fundwatch
 * gave in 3101/3102 (../shared/national/README.md §5). Neither printed copy of
 * the specification carries 3103; the fields and codes are the ones the HIS
 * code that calls it sends (openhis-itaii, OpenHIS-Server/Web). The request is
 * the national envelope (§1.1) around `input.data`; the answer is the national
 * response envelope (§1.2). docs/national-feedback.md describes both.
 */

/** The national DT format: yyyy-MM-dd HH:mm:ss, China time, a real calendar time. */
export const NationalDateTime = z.string()
  .regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, 'yyyy-MM-dd HH:mm:ss')
  .refine((s) => {
    const d = new Date(`${s.replace(' ', 'T')}Z`)
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 19) === s.replace(' ', 'T')
  }, 'a calendar date and time that exists')
  .describe('National DT: yyyy-MM-dd HH:mm:ss, China time')

/**
 * The request envelope of a 3103: the national envelope every transaction
 * shares (schemas/national.ts), with what fundwatch records from it required —
 * the operator and a real send time.
 */
export const FeedbackEnvelope = NationalRequestEnvelope.extend({
  infno: z.literal('3103').describe('交易编号: 3103'),
  opter: z.string().min(1).max(30).describe('经办人: operator or terminal code (recorded with the feedback)'),
  opter_name: z.string().min(1).max(50).describe('经办人姓名 (recorded; masked in API answers like any name)'),
  inf_time: NationalDateTime.describe('交易时间: when the institution sent it (China time)'),
  fixmedins_code: FixmedinsCode.describe('定点医药机构编号: the institution answering; must be the token\'s'),
})

export const WARN_TYPES = ['1', '2'] as const
export const DSPO_WAYS = ['1', '2'] as const
/** zh/en names of the codes (§6). */
export const WARN_TYPE_LABELS = { 1: { zh: '事前', en: 'pre-event (3101)' }, 2: { zh: '事中', en: 'in-event (3102)' } } as const
export const DSPO_WAY_LABELS = { 1: { zh: '继续执行', en: 'continued as written' }, 2: { zh: '返回修改', en: 'returned for correction' } } as const

export const FeedbackWarn = z.looseObject({
  warn_rslt_id: z.string().min(1).max(50).describe('违规标识: the jr_id fundwatch answered in 3101/3102 (= the alert_id of the 事中 alert)'),
  dspo_way: z.enum(DSPO_WAYS).describe('处理方式: 1 继续执行 (continue the order as written), 2 返回修改 (go back and change it)'),
  dspo_way_rea: z.string().max(500).optional().describe('处理原因: required when dspo_way is 1 (why the warning was overridden)'),
}).refine((w) => w.dspo_way !== '1' || (w.dspo_way_rea ?? '').trim() !== '', {
  message: 'dspo_way_rea (处理原因) is required when dspo_way is 1 (继续执行)',
  path: ['dspo_way_rea'],
})

export const FeedbackData = z.looseObject({
  warn_type: z.enum(WARN_TYPES).describe('反馈类型: 1 事前 (feedback on 3101), 2 事中 (feedback on 3102)'),
  warns: z.array(FeedbackWarn).min(1).max(100).describe('处理数据集合: one entry per warning handled'),
})

/** POST /api/v1/national/3103: the envelope with `input.data`. */
export const FeedbackRequest = FeedbackEnvelope.extend({
  input: z.looseObject({ data: FeedbackData }),
})
export type FeedbackRequest = z.infer<typeof FeedbackRequest>

/** What fundwatch did with each warning (the national 3103 output is undocumented: these fields are fundwatch's). */
export const FeedbackRecorded = z.object({
  warn_rslt_id: z.string(),
  feedback_id: z.string().describe('Deterministic id of the stored feedback'),
  against: z.enum(['alert', 'finding']).describe('alert: the 事中 alert exists; finding: recorded against the pre-check finding, shown on the alert when it is stored'),
  duplicate: z.boolean().describe('The same feedback was already on record: nothing new stored'),
})

/** The national response envelope (交易输出). infcode 0 = recorded; -1 = refused, err_msg says why, nothing recorded. */
export const FeedbackResponse = NationalResponseEnvelope.extend({
  output: z.object({ recorded: z.array(FeedbackRecorded) }).optional(),
})
export type FeedbackResponse = z.infer<typeof FeedbackResponse>
