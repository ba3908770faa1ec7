import { z } from 'zod'

/**
 * The national platform's rule-engine analysis (明细审核) as fundwatch answers
 * it: 3101 事前分析 and 3102 事中分析 (定点医药机构接口规范 §5; the summary in
 * shared/national/README.md). Written from the printed field tables. Every
 * object is loose: provinces add fields, and an unknown field is never a
 * reason to refuse. A field is required here when fundwatch needs it to
 * answer; the other printed fields are optional (their printed requiredness
 * is in the description), so an HIS that leaves out a field fundwatch does
 * not read is not refused. docs/national-analysis.md says how each is used.
 */

/** A C (character) value; some HIS send codes as JSON numbers. */
const C = (d: string) => z.union([z.string(), z.number()]).describe(d)
/** An N (numeric) value: a JSON number or a decimal string. */
const N = (d: string) => z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/, 'a decimal number')]).describe(d)
/** D / DT: `yyyy-MM-dd` or `yyyy-MM-dd HH:mm:ss` (the spec prints D for fields that carry a time). */
export const NationalTime = z.string().regex(/^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$/, 'yyyy-MM-dd or yyyy-MM-dd HH:mm:ss')
const T = (d: string) => NationalTime.describe(d)
const opt = <S extends z.ZodType>(s: S) => s.optional()

/** The request envelope (交易输入, §1.1). */
export const NationalRequestEnvelope = z.looseObject({
  infno: z.string().regex(/^\d{4}[A-Z]?$/, 'infno: a 4-digit transaction code').describe('交易编号'),
  msgid: z.string().min(1).max(30).describe('发送方报文ID: institution code (12) + yyyyMMddHHmmss (14) + 4-digit sequence'),
  mdtrtarea_admvs: opt(C('就医地医保区划 (spec: required)')),
  insuplc_admdvs: opt(C('参保地医保区划; empty = local')),
  recer_sys_code: opt(C('接收方系统代码 (spec: required)')),
  dev_no: opt(C('设备编号')),
  dev_safe_info: opt(C('设备安全信息')),
  cainfo: opt(C('数字签名信息')),
  signtype: opt(C('签名类型')),
  infver: opt(C('接口版本号 (spec: required)')),
  opter_type: opt(C('经办人类别 (spec: required)')),
  opter: opt(C('经办人 (spec: required)')),
  opter_name: opt(C('经办人姓名 (spec: required)')),
  inf_time: z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, 'inf_time: yyyy-MM-dd HH:mm:ss').describe('交易时间 (China time)'),
  fixmedins_code: z.string().regex(/^[HP]\d{11}$/, 'fixmedins_code: H or P followed by 11 digits').describe('定点医药机构编号: must be an institution the caller\'s token speaks for'),
  fixmedins_name: opt(C('定点医药机构名称 (spec: required)')),
  sign_no: opt(C('交易签到流水号')),
  input: z.looseObject({}).describe('交易输入'),
})

export const FsiDiagnose = z.looseObject({
  dise_id: opt(C('诊断标识 (spec: required)')),
  inout_dise_type: opt(C('出入诊断类别: 1 入院 2 出院 (spec: required)')),
  maindise_flag: C('主诊断标志: 1 main'),
  dias_srt_no: opt(C('诊断排序号 (spec: required)')),
  dise_codg: z.string().min(1).describe('诊断(疾病)编码, ICD-10 医保版'),
  dise_name: z.string().min(1).describe('诊断(疾病)名称'),
  dise_date: opt(T('诊断日期 (spec: required)')),
})

export const FsiOrder = z.looseObject({
  rx_id: C('处方(医嘱)标识: becomes the fee line\'s feedetl_sn (see docs/national-analysis.md)'),
  rxno: opt(C('处方号 (spec: required)')),
  grpno: opt(C('组编号')),
  long_drord_flag: opt(C('是否为长期医嘱 1/0 (spec: required)')),
  hilist_type: opt(C('目录类别 (list_type values; spec: required)')),
  chrg_type: C('收费类别 (med_chrgitm_type 01–14)'),
  drord_bhvr: opt(C('医嘱行为 0 其他 1 出院带药 (spec: required)')),
  hilist_code: z.string().min(1).describe('医保目录代码'),
  hilist_name: opt(C('医保目录名称 (spec: required)')),
  hilist_dosform: opt(C('医保目录剂型')),
  hilist_lv: opt(C('医保目录等级 (spec: required)')),
  hilist_pric: opt(N('医保目录价格 (spec: required)')),
  lv1_hosp_item_pric: opt(N('一级医院目录价格')),
  lv2_hosp_item_pric: opt(N('二级医院目录价格')),
  lv3_hosp_item_pric: opt(N('三级医院目录价格')),
  hilist_memo: opt(C('医保目录备注')),
  hosplist_code: C('医院目录代码'),
  hosplist_name: opt(C('医院目录名称 (spec: required)')),
  hosplist_dosform: opt(C('医院目录剂型')),
  cnt: N('数量'),
  pric: N('单价'),
  sumamt: N('总费用'),
  ownpay_amt: opt(N('自费金额 (spec: required)')),
  selfpay_amt: opt(N('自付金额 (spec: required)')),
  spec: opt(C('规格 (spec: required)')),
  spec_unt: opt(C('数量单位 (spec: required)')),
  drord_begn_date: T('医嘱开始日期: the fee line\'s fee_ocur_time'),
  drord_stop_date: opt(z.union([NationalTime, z.literal('')]).describe('医嘱停止日期')),
  drord_dept_codg: C('下达医嘱的科室标识'),
  drord_dept_name: opt(C('下达医嘱科室名称 (spec: required)')),
  drord_dr_codg: C('开处方(医嘱)医生标识'),
  drord_dr_name: opt(C('开处方(医嘱)医生姓名 (spec: required)')),
  drord_dr_profttl: opt(C('开处方(医嘱)医职称 (spec: required)')),
  curr_drord_flag: opt(C('是否当前处方(医嘱) 1/0 (spec: required); absent on every order = all are current')),
  prd_days: opt(N('fundwatch extension (2204\'s 周期天数, which an order cannot print): days of supply')),
  expContent: opt(z.union([z.looseObject({}), z.string()]).describe('字段扩展 (Jiangxi): fundwatch reads `hours` (and `prd_days`) from it, as from a 2204 fee line\'s')),
})

export const FsiOperation = z.looseObject({
  setl_list_oprn_id: opt(C('手术操作ID (spec: required)')),
  oprn_code: opt(C('手术操作代码, ICD-9-CM-3 医保版')),
  oprn_name: opt(C('手术操作名称')),
  main_oprn_flag: opt(C('主手术操作标志 (spec: required)')),
  oprn_date: opt(z.union([NationalTime, z.literal('')]).describe('手术操作日期')),
  anst_way: opt(C('麻醉方式')),
  oper_dr_name: opt(C('术者医师姓名')),
  oper_dr_code: opt(C('术者医师代码')),
  anst_dr_name: opt(C('麻醉医师姓名')),
  anst_dr_code: opt(C('麻醉医师代码')),
})

export const FsiEncounter = z.looseObject({
  mdtrt_id: C('就诊标识'),
  medins_id: C('医疗服务机构标识: the current encounter\'s must be the envelope\'s fixmedins_code'),
  medins_name: opt(C('医疗机构名称 (spec: required)')),
  medins_admdvs: opt(C('医疗机构行政区划编码 (spec: required)')),
  medins_type: opt(C('医疗服务机构类型 (spec: required)')),
  medins_lv: opt(C('医疗机构等级 (spec: required)')),
  wardarea_codg: opt(C('病区标识')),
  wardno: opt(C('病房号')),
  bedno: opt(C('病床号')),
  adm_date: T('入院日期 (visit begins)'),
  dscg_date: opt(z.union([NationalTime, z.literal('')]).describe('出院日期 (spec: required; read for 3102 at inpatient (pre-)settlement only)')),
  dscg_main_dise_codg: opt(C('主诊断编码 (spec: required; read with dscg_date)')),
  dscg_main_dise_name: opt(C('主诊断名称 (spec: required)')),
  fsi_diagnose_dtos: z.array(FsiDiagnose).max(50).describe('诊断信息'),
  dr_codg: C('医师标识'),
  adm_dept_codg: C('入院科室标识'),
  adm_dept_name: opt(C('入院科室名称 (spec: required)')),
  dscg_dept_codg: opt(C('出院科室标识 (spec: required)')),
  dscg_dept_name: opt(C('出院科室名称 (spec: required)')),
  med_mdtrt_type: opt(C('就诊类型 (spec: required; values differ between HIS)')),
  med_type: C('医疗类别'),
  fsi_order_dtos: z.array(FsiOrder).max(1000).describe('处方(医嘱)信息: the fee lines of the draft'),
  matn_stas: opt(C('生育状态 (spec: required)')),
  medfee_sumamt: opt(N('总费用 (spec: required)')),
  ownpay_amt: opt(N('自费金额 (spec: required)')),
  selfpay_amt: opt(N('自付金额 (spec: required)')),
  acct_payamt: opt(N('个人账户支付金额')),
  ma_amt: opt(N('救助金支付金额')),
  hifp_payamt: opt(N('统筹金支付金额')),
  setl_totlnum: opt(N('结算总次数 (spec: required)')),
  insutype: C('险种'),
  reim_flag: opt(C('报销标志 (spec: required)')),
  out_setl_flag: opt(C('异地结算标志 (spec: required)')),
  fsi_operation_dtos: opt(z.array(FsiOperation).max(50).describe('手术操作集合')),
})

export const PatientDto = z.looseObject({
  patn_id: C('参保人标识: the insured person\'s psn_no'),
  patn_name: opt(C('姓名 (spec: required; not read)')),
  gend: C('性别'),
  brdy: T('出生日期'),
  poolarea: opt(C('统筹区编码 (spec: required)')),
  curr_mdtrt_id: C('当前就诊标识: the encounter analysed'),
  fsi_encounter_dtos: z.array(FsiEncounter).min(1).max(50).describe('就诊信息集合 (current + history; only the current one is read)'),
  fsi_his_data_dto: opt(z.unknown().describe('医院信息集合 (no printed fields)')),
})

export const AnalysisData = z.looseObject({
  syscode: opt(C('系统编码 (spec: required)')),
  patient_dtos: z.array(PatientDto).min(1).max(20).describe('参保人信息'),
  rule_ids: opt(z.array(z.string()).max(100).describe('规则标识集合: when non-empty, only these rules\' findings are answered')),
  task_id: opt(C('任务ID, echoed on each result')),
  trig_scen: opt(C('触发场景: 3101 1–5 (事前), 3102 6–10 (事中); a comma-separated list is taken')),
})

const analysisRequest = (infno: '3101' | '3102') => NationalRequestEnvelope.extend({
  infno: z.literal(infno).describe('交易编号'),
  input: z.looseObject({ data: AnalysisData }),
})
/** 3101 明细审核事前分析服务. */
export const National3101Request = analysisRequest('3101')
/** 3102 明细审核事中分析服务: the same shape (§5). */
export const National3102Request = analysisRequest('3102')

/** The response envelope (交易输出, §1.2). `output` is absent on a failure. */
export const NationalResponseEnvelope = z.looseObject({
  infcode: z.number().int().describe('交易状态码: 0 success, -1 failure'),
  inf_refmsgid: z.string().max(30).describe('接收方报文ID: division (6) + yyyyMMddHHmmss (14) + serial (10)'),
  refmsg_time: z.string().regex(/^\d{17}$/).describe('接收报文时间 yyyyMMddHHmmssSSS (China time)'),
  respond_time: z.string().regex(/^\d{17}$/).describe('响应报文时间 yyyyMMddHHmmssSSS (China time)'),
  err_msg: z.string().max(1000).describe('错误信息: why, when infcode ≠ 0; empty on success'),
  output: z.looseObject({}).optional().describe('交易输出'),
})

export const JudgeResultDetail = z.looseObject({
  jrd_id: z.string().max(50).describe('违规明细标识'),
  patn_id: z.string().describe('参保人标识'),
  mdtrt_id: z.string().optional().describe('就诊标识'),
  rx_id: z.string().optional().describe('处方(医嘱)标识 (the line\'s feedetl_sn when it is not one of the request\'s orders)'),
  vola_item_type: z.enum(['1', '2']).describe('违规明细类型: 1 违规项 (one of the request\'s current orders), 2 涉及项 (any other line)'),
  vola_amt: z.number().describe('违规金额'),
})

/** What fundwatch adds to a result in `expContent` (the national extension field): the finding as POST /api/v1/precheck states it. */
export const ResultExtension = z.looseObject({
  detector: z.string().describe('Detector id'),
  result: z.enum(['violation', 'suspicious']),
  severity: z.enum(['low', 'medium', 'high', 'critical']),
  stage: z.enum(['pre', 'in', 'post']),
  amount_at_risk: z.string().describe('Yuan, two decimals (the exact figure behind vola_amt)'),
  feedetl_sns: z.array(z.string()).describe('The fee lines it names'),
  evidence: z.record(z.string(), z.unknown()).describe('Facts; personal keys masked as for the precheck role; the disclosure rule applies'),
})

export const AnalysisResult = z.looseObject({
  jr_id: z.string().max(50).describe('违规标识: the alert_id of the 事中 alert for the same facts (3103 warn_rslt_id)'),
  rule_id: z.string().describe('规则ID (docs/national-analysis.md)'),
  rule_name: z.string().describe('规则名称'),
  vola_cont: z.string().describe('违规内容'),
  patn_id: z.string().describe('参保人ID'),
  mdtrt_id: z.string().optional().describe('就诊ID'),
  judge_result_detail_dtos: z.array(JudgeResultDetail).describe('违规明细'),
  vola_amt: z.number().describe('违规金额'),
  vola_amt_stas: z.enum(['0', '1']).describe('违规金额计算状态: 1 正常, 0 异常 (the amount is withheld: it is another institution\'s)'),
  sev_deg: z.enum(['1', '2', '3']).describe('严重程度: 1 明确违规, 2 高度可疑, 3 轻度可疑'),
  vola_evid: z.string().optional().describe('违规依据'),
  vola_bhvr_type: z.enum(['1', '2']).describe('违规行为分类: 1 就诊类/行为类, 2 项目类'),
  task_id: z.string().optional().describe('任务ID (echoed)'),
  expContent: ResultExtension.optional().describe('fundwatch\'s extension (the national extension point): the finding as the pre-check states it'),
})

/** 3101 / 3102 answer. A failure carries no `output`. */
export const NationalAnalysisResponse = NationalResponseEnvelope.extend({
  output: z.looseObject({ result: z.array(AnalysisResult) }).optional(),
})

export type NationalRequestEnvelope = z.infer<typeof NationalRequestEnvelope>
export type NationalAnalysisRequest = z.infer<typeof National3101Request> | z.infer<typeof National3102Request>
export type AnalysisResult = z.infer<typeof AnalysisResult>
export type JudgeResultDetail = z.infer<typeof JudgeResultDetail>
export type NationalResponseEnvelope = z.infer<typeof NationalResponseEnvelope>
