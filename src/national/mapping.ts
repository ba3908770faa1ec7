import type { EventType } from '../../schemas/index.ts'

/**
 * THE mapping from the national platform's transactions (定点医药机构接口规范)
 * onto fundwatch's contract events, as data: src/national/adapter.ts
 * interprets it, docs/national.md renders it (`npm run docs`), so the two
 * cannot disagree. docs/national.md says
 * what each row means for a regulator.
 *
 * A source names where a value comes from:
 * - `in.<field>`   the input row being mapped (of the transaction's `node`);
 * - `env.<field>`  the request envelope;
 * - `out.<field>`  the response's output node (`output`), for fee lines the
 *                  result row with the same feedetl_sn;
 * - `exp.<key>`    fundwatch's documented key in the row's expContent
 *                  (object or JSON string; docs/national.md);
 * - `const:<v>`    a constant;
 * - `derive:<name>` a value computed from several fields (the adapter's
 *                  DERIVE functions, each documented in `note`).
 * The first source with a non-empty value wins. `via` converts it.
 */
export type Via =
  /** As sent; a JSON number becomes its String(). */
  | 'text'
  /** National DT "yyyy-MM-dd HH:mm:ss" (China time) → RFC 3339 "yyyy-MM-ddTHH:mm:ss+08:00". */
  | 'datetime'
  /**
   * National D "yyyy-MM-dd" → a time on that day, China time: the envelope's
   * inf_time when the record was sent that day (a stock-take uploaded as it is
   * made: the nearest time the transaction says), else the day's 00:00.
   */
  | 'onDay'
  /** 医疗类别, provincial codes normalised (variants.ts MED_TYPE_CODES). */
  | 'medType'
  /** An integer; 0, "0" and "" are absent (prd_days). */
  | 'days'
  /** 目录类别 from 医疗收费项目类别 (listTypeOf). */
  | 'listType'
  /** 3502 库存变更类型 → movement kind (INV_CHG_KINDS). */
  | 'invChgKind'
  /** The DRG/DIP group {type, code, weight} with weight as a decimal string. */
  | 'payGroup'
  /** A list of {oprn_oprt_code, oprn_oprt_date} with dates as RFC 3339 or D. */
  | 'operations'

export interface FieldRule {
  /** The contract field (in the payload, or in each fee line for `lines`). */
  to: string
  from: readonly string[]
  via?: Via
  /** An `out.` source the event cannot do without: missing → national.missing@<infno>.<output node>.<field>. */
  need?: true
  note?: string
}

export interface TxRule {
  infno: string
  name: string
  /** The contract event it maps to; absent for a transaction that is ignored. */
  event?: EventType
  /** Why a transaction maps to no event (counted in fundwatch_national_ignored_total). */
  ignored?: string
  /** The input node whose rows make the events. */
  node?: string
  /**
   * How rows become events: `one` — the node's (single) row is one event;
   * `each` — one event per row; `visit` — rows grouped by mdtrt_id, in order
   * of first appearance, one event per visit (fee lines, line reversals).
   */
  rows?: 'one' | 'each' | 'visit'
  /** The output node read (`out.` sources). */
  output?: string
  payload?: readonly FieldRule[]
  /** Per row of a `visit` group: the fee lines of a fee.uploaded. */
  lines?: readonly FieldRule[]
  /** Rows with a negative cnt and an init_feedetl_sn are refunds of that line: a fee.reversed per visit, after the uploads. */
  refunds?: true
  note?: string
}

const r = (to: string, from: string | readonly string[], via?: Via, more: Partial<FieldRule> = {}): FieldRule => ({ to, from: typeof from === 'string' ? [from] : from, ...(via ? { via } : {}), ...more })

/** 3502 库存变更类型 → contract movement kind. Inflows are purchases, outflows returns or losses (docs/national.md). */
export const INV_CHG_KINDS: Readonly<Record<string, 'purchase' | 'return' | 'loss'>> = {
  '101': 'purchase', // 调拨入库 transfer in
  '102': 'return', // 调拨出库 transfer out
  '103': 'purchase', // 盘盈 stock-count gain
  '104': 'loss', // 盘损 stock-count loss
  '105': 'loss', // 销毁 destroyed
  '106': 'purchase', // 其他入库 other inflow
  '107': 'loss', // 其他出库 other outflow
  '108': 'purchase', // JX 初始化入库 initial stock / Jilin 商品采购入库 purchase: an inflow either way
  '109': 'return', // Jilin 商品退货出库 goods returned out
  '110': 'purchase', // Jilin 赠药入库 donated stock in
  '111': 'return', // Jilin 赠药退回出库 donated stock returned
}

const visitKey = [r('mdtrt_id', 'in.mdtrt_id'), r('psn_no', 'in.psn_no')] as const
/** A fee line as 2204 and 2301 carry it (the 2204 lines also keep their charge batch). */
const feeLine = [
  r('feedetl_sn', 'in.feedetl_sn', 'text'),
  r('fee_ocur_time', 'in.fee_ocur_time', 'datetime'),
  r('med_list_codg', 'in.med_list_codg'),
  r('medins_list_codg', 'in.medins_list_codg'),
  r('med_chrgitm_type', 'out.med_chrgitm_type', 'text', { need: true, note: 'the result row with the same feedetl_sn' }),
  r('list_type', 'out.med_chrgitm_type', 'listType'),
  r('cnt', 'in.cnt', 'text'),
  r('pric', 'in.pric', 'text'),
  r('det_item_fee_sumamt', 'in.det_item_fee_sumamt', 'text'),
  r('bilg_dept_codg', 'in.bilg_dept_codg'),
  r('bilg_dr_codg', 'in.bilg_dr_codg'),
  r('prd_days', 'in.prd_days', 'days', { note: 'printed for 2204; 2301 prints none, taken the same way when an HIS sends it (discharge medication)' }),
  r('hours', 'exp.hours', 'text', { note: 'time-based items' }),
] as const
/** A settlement's visit and person, and its kinds: setlinfo's, else the request's (2207, 2304). */
const settlementIds = [r('mdtrt_id', ['out.mdtrt_id', 'in.mdtrt_id']), r('psn_no', ['out.psn_no', 'in.psn_no'])] as const
const settlementKinds = [r('med_type', ['out.med_type', 'in.med_type'], 'medType'), r('insutype', ['out.insutype', 'in.insutype'])] as const
/** The money of a settlement, from the platform's setlinfo (2207, 2304). */
const settlementAmounts = [
  r('medfee_sumamt', 'out.medfee_sumamt', 'text', { need: true }),
  r('fulamt_ownpay_amt', 'out.fulamt_ownpay_amt', 'text', { need: true }),
  r('inscp_scp_amt', 'out.inscp_scp_amt', 'text', { need: true }),
  r('hifp_pay', 'out.hifp_pay', 'text', { need: true }),
  r('fund_pay_sumamt', 'out.fund_pay_sumamt', 'text', { need: true }),
  r('acct_pay', 'out.acct_pay', 'text', { need: true }),
  r('psn_cash_pay', ['out.psn_cash_pay', 'out.pdn_cash_pay'], 'text', { need: true, note: 'pdn_cash_pay where misspelt' }),
  r('hosp_part_amt', 'out.hosp_part_amt', 'text'),
  r('pay_grp', 'out.exp.pay_grp', 'payGroup', { note: "setlinfo's expContent" }),
] as const
const inventoryBase = [
  r('fixmedins_code', 'env.fixmedins_code', 'text', { note: 'the sender' }),
  r('med_list_codg', 'in.med_list_codg'),
  r('batch_no', 'in.fixmedins_bchno'),
  r('drug_trac_codgs', 'derive:drugTracCodgs', undefined, { note: 'drugtracinfo[].drug_trac_codg (2025 layout), else the single drug_trac_codg; absent when none' }),
] as const

export const TRANSACTIONS: readonly TxRule[] = [
  {
    infno: '2201', name: '门诊挂号', event: 'visit.opened', node: 'data', rows: 'one', output: 'data',
    payload: [
      r('mdtrt_id', 'out.mdtrt_id', 'text', { need: true, note: 'issued by the platform' }),
      r('psn_no', 'in.psn_no'),
      r('med_type', ['in.med_type', 'const:11'], 'medType', { note: '2201 carries none: 11 until 2203 brings it' }),
      r('begntime', 'in.begntime', 'datetime'),
      r('insutype', 'in.insutype'),
      r('insuplc_admdvs', ['env.insuplc_admdvs', 'env.mdtrtarea_admvs'], 'text', { note: 'empty = local care: the care area' }),
      r('ipt_otp_no', 'in.ipt_otp_no'),
      r('adm_dept_codg', 'in.dept_code'),
      r('atddr_no', 'in.atddr_no'),
      r('diagnoses', 'derive:none', undefined, { note: '[] (2203 brings them)' }),
      r('psn', 'derive:psn', undefined, { note: 'gend/brdy from a resident ID: certno when psn_cert_type is 01 or empty, else mdtrt_cert_no when mdtrt_cert_type is 02; certno, psn_name as sent; absent without a resident ID' }),
    ],
  },
  {
    infno: '2202', name: '门诊挂号撤销', event: 'visit.cancelled', node: 'data', rows: 'one',
    payload: [...visitKey, r('cancels', 'const:visit')],
  },
  {
    infno: '2203', name: '门诊就诊信息上传', event: 'visit.updated', node: 'mdtrtinfo', rows: 'one',
    payload: [
      ...visitKey,
      r('med_type', 'in.med_type', 'medType'),
      r('diagnoses', 'derive:validDiagnoses', undefined, { note: 'diseinfo rows with vali_flag 1, by diag_srt_no; maindiag_flag 1 for diag_srt_no 1' }),
    ],
  },
  {
    infno: '2203A', name: '门诊就诊信息上传A', event: 'visit.updated', node: 'mdtrtinfo', rows: 'one',
    payload: [
      ...visitKey,
      r('med_type', 'in.med_type', 'medType'),
      r('diagnoses', 'derive:validDiagnoses', undefined, { note: 'as 2203' }),
    ],
  },
  {
    infno: '2204', name: '门诊费用明细信息上传', event: 'fee.uploaded', node: 'feedetail', rows: 'visit', output: 'result',
    payload: [...visitKey],
    lines: [
      ...feeLine,
      r('chrg_bchno', 'in.chrg_bchno', 'text', { note: 'kept: 2205 reverses by charge batch' }),
    ],
  },
  {
    infno: '2205', name: '门诊费用明细信息撤销', event: 'fee.reversed', node: 'data', rows: 'one',
    payload: [...visitKey, r('chrg_bchno', 'in.chrg_bchno', 'text', { note: '"0000": every line of the visit not yet settled' })],
  },
  { infno: '2206', name: '门诊预结算', ignored: 'pre-settlement: a trial calculation, not a fact' },
  {
    infno: '2207', name: '门诊结算', event: 'settlement.completed', node: 'data', rows: 'one', output: 'setlinfo',
    payload: [
      r('setl_id', 'out.setl_id', 'text', { need: true }),
      ...settlementIds,
      r('setl_time', 'out.setl_time', 'datetime', { need: true }),
      ...settlementKinds,
      ...settlementAmounts,
    ],
  },
  {
    infno: '2208', name: '门诊结算撤销', event: 'settlement.reversed', node: 'data', rows: 'one',
    payload: [r('setl_id', 'in.setl_id'), ...visitKey],
  },
  {
    infno: '2301', name: '住院费用明细上传', event: 'fee.uploaded', node: 'feedetail', rows: 'visit', output: 'result', refunds: true,
    payload: [...visitKey],
    lines: [
      ...feeLine,
    ],
    note: 'a line with a negative cnt and an init_feedetl_sn (退费) is a fee.reversed of that line, after the uploads',
  },
  {
    infno: '2302', name: '住院费用明细撤销', event: 'fee.reversed', node: 'data', rows: 'visit',
    payload: [
      ...visitKey,
      r('feedetl_sns', 'derive:feedetlSns', undefined, { note: "the group's feedetl_sn other than 0000" }),
      r('chrg_bchno', 'derive:allUnsettled', undefined, { note: 'feedetl_sn "0000" = every line not yet settled → chrg_bchno "0000"' }),
    ],
  },
  { infno: '2303', name: '住院预结算', ignored: 'pre-settlement: a trial calculation, not a fact' },
  {
    infno: '2304', name: '住院结算', event: 'settlement.completed', node: 'data', rows: 'one', output: 'setlinfo',
    payload: [
      r('setl_id', 'out.setl_id', 'text', { need: true }),
      ...settlementIds,
      r('setl_time', ['out.setl_time', 'env.inf_time'], 'datetime', { note: 'optional in 2304 setlinfo: the transaction time else' }),
      ...settlementKinds,
      ...settlementAmounts,
    ],
  },
  {
    infno: '2305', name: '住院结算撤销', event: 'settlement.reversed', node: 'data', rows: 'one',
    payload: [r('setl_id', 'in.setl_id'), ...visitKey],
  },
  {
    infno: '2401', name: '入院办理', event: 'visit.opened', node: 'mdtrtinfo', rows: 'one', output: 'result',
    payload: [
      r('mdtrt_id', 'out.mdtrt_id', 'text', { need: true, note: 'issued by the platform' }),
      r('psn_no', 'in.psn_no'),
      r('med_type', 'in.med_type', 'medType', { note: 'Hunan 2101/2102/2106/2107 → 21' }),
      r('begntime', 'in.begntime', 'datetime'),
      r('insutype', 'in.insutype'),
      r('insuplc_admdvs', ['env.insuplc_admdvs', 'env.mdtrtarea_admvs'], 'text', { note: 'empty = local care: the care area' }),
      r('ipt_otp_no', ['in.ipt_no', 'in.ipt_otp_no'], 'text', { note: 'Guangzhou: ipt_otp_no' }),
      r('adm_dept_codg', 'in.adm_dept_codg'),
      r('atddr_no', 'in.atddr_no'),
      r('diagnoses', 'derive:diagnoses', undefined, { note: 'diseinfo rows, maindiag_flag as given' }),
      r('psn', 'derive:psn', undefined, { note: 'as 2201; the certificate type is psn_cert_type (Hunan: cert_type)' }),
    ],
  },
  {
    infno: '2402', name: '出院办理', event: 'visit.closed', node: 'dscginfo', rows: 'one',
    payload: [
      ...visitKey,
      r('endtime', 'in.endtime', 'datetime'),
      r('dscg_way', 'in.dscg_way'),
      r('dscg_maindiag_code', 'derive:mainDiagnosis', undefined, { note: 'the diseinfo row with maindiag_flag 1 (required)' }),
      r('diagnoses', 'derive:diagnoses', undefined, { note: 'diseinfo rows, maindiag_flag as given' }),
      r('operations', ['exp.operations', 'derive:operation'], 'operations', { note: "expContent's operations, else [{oprn_oprt_code, endtime's date}] when oprn_oprt_code is given" }),
    ],
  },
  {
    infno: '2403', name: '住院信息变更', event: 'visit.updated', node: 'adminfo', rows: 'one',
    payload: [
      ...visitKey,
      r('med_type', 'in.med_type', 'medType'),
      r('adm_dept_codg', 'in.adm_dept_codg'),
      r('atddr_no', 'in.atddr_no'),
      r('diagnoses', 'derive:diagnoses', undefined, { note: 'diseinfo rows, maindiag_flag as given; replaces the list' }),
    ],
  },
  {
    infno: '2404', name: '入院撤销', event: 'visit.cancelled', node: 'data', rows: 'one',
    payload: [...visitKey, r('cancels', 'const:visit')],
  },
  {
    infno: '2405', name: '出院撤销', event: 'visit.cancelled', node: 'data', rows: 'one',
    payload: [...visitKey, r('cancels', 'const:discharge')],
  },
  { infno: '3101', name: '明细审核事前分析服务', ignored: 'a pre-check request (served by fundwatch\'s own 3101 endpoint), not a fact' },
  { infno: '3102', name: '明细审核事中分析服务', ignored: 'a pre-check request (served by fundwatch\'s own 3102 endpoint), not a fact' },
  { infno: '3103', name: '事前事中服务反馈服务', ignored: 'feedback on a pre-check warning (taken by fundwatch\'s own 3103 endpoint), not a fact' },
  {
    infno: '3501', name: '商品盘存上传', event: 'inventory.movement', node: 'invinfo', rows: 'each',
    payload: [...inventoryBase, r('kind', 'const:stock_count'), r('cnt', 'in.inv_cnt', 'text'), r('movement_time', 'in.invdate', 'onDay')],
  },
  {
    infno: '3502', name: '商品库存变更', event: 'inventory.movement', node: 'invinfo', rows: 'each',
    payload: [...inventoryBase, r('kind', 'in.inv_chg_type', 'invChgKind', { note: 'INV_CHG_KINDS' }), r('cnt', 'in.cnt', 'text'), r('movement_time', 'in.inv_chg_time', 'datetime'), r('inv_chg_type', 'in.inv_chg_type', 'text', { note: 'kept' })],
  },
  {
    infno: '3503', name: '商品采购', event: 'inventory.movement', node: 'purcinfo', rows: 'each',
    payload: [...inventoryBase, r('kind', 'const:purchase'), r('cnt', 'in.purc_retn_cnt', 'text'), r('movement_time', 'in.purc_retn_stoin_time', 'datetime'), r('prdr_name', ['in.prdr_name', 'in.prodentp_name'], 'text', { note: 'Jiangxi: prodentp_name' })],
  },
  {
    infno: '3504', name: '商品采购退货', event: 'inventory.movement', node: 'purcinfo', rows: 'each',
    payload: [...inventoryBase, r('kind', 'const:return', undefined, { note: 'goods back to the supplier: an outflow' }), r('cnt', 'in.purc_retn_cnt', 'text'), r('movement_time', 'in.purc_retn_stoin_time', 'datetime')],
  },
  {
    infno: '3505', name: '商品销售', event: 'inventory.movement', node: 'selinfo', rows: 'each',
    payload: [...inventoryBase, r('kind', 'const:sale'), r('cnt', 'in.sel_retn_cnt', 'text'), r('movement_time', 'in.sel_retn_time', 'datetime'), r('setl_id', 'in.setl_id')],
  },
  {
    infno: '3506', name: '商品销售退货', event: 'inventory.movement', node: 'selinfo', rows: 'each',
    payload: [
      ...inventoryBase,
      r('kind', 'const:purchase', undefined, { note: 'a customer\'s return puts goods back on the shelf: an inflow (the contract\'s return is an outflow to the supplier)' }),
      r('cnt', 'in.sel_retn_cnt', 'text'), r('movement_time', 'in.sel_retn_time', 'datetime'), r('setl_id', 'in.setl_id'),
    ],
  },
]

/**
 * Contract fields no national transaction carries (`event_type.field`), and
 * why; every other field of every contract payload has a row above (checked by
 * test/national/adapter.test.ts, listed in docs/national.md).
 */
export const NOT_CARRIED: Readonly<Record<string, string>> = {
  'inventory.movement.mdtrt_id': '3505/3506 carry the settlement (setl_id) and the pharmacy\'s own mdtrt_sn, not the platform\'s visit id',
}

export const TX_BY_INFNO: ReadonlyMap<string, TxRule> = new Map(TRANSACTIONS.map((t) => [t.infno, t]))

/**
 * The contract's list_type from a 医疗收费项目类别 (med_chrgitm_type; 3101/3102's
 * chrg_type uses the same codes): 09 西药费 / 11 中成药费 → drug, 10 中药饮片费 →
 * herb, 08 卫生材料费 → consumable, every other class a service.
 */
export function listTypeOf(chrgType: string | undefined): 'drug' | 'herb' | 'consumable' | 'service' {
  return chrgType === '09' || chrgType === '11' ? 'drug' : chrgType === '10' ? 'herb' : chrgType === '08' ? 'consumable' : 'service'
}
