import { createHash } from 'node:crypto'
import ExcelJS from 'exceljs'
import { zipSync, strToU8 } from 'fflate'
import { maskBirthday, maskCertno, maskDeep, maskName } from '../auth/mask.ts'
import { STATUS_LABELS } from '../review/workflow.ts'
import type { FeeLineRec } from './claims.ts'
import type { PackAlert, PackInput } from './pack-input.ts'
import { renderReport } from './report.ts'
import { sumYuan } from '../util/money.ts'

export type { PackAlert, PackInput } from './pack-input.ts'


export interface Manifest {
  case_id: string
  generated_at: string
  generated_by: { id: string; name: string; role: string }
  purpose: string
  revealed: boolean
  algorithm: 'SHA-256'
  files: { name: string; bytes: number; sha256: string }[]
}

export const PACK_FILES = ['case.json', 'lines.xlsx', 'lines.csv', 'report.html'] as const

const LINE_COLUMNS: { key: keyof FeeLineRec | 'alert_ids'; zh: string }[] = [
  { key: 'mdtrt_id', zh: '就诊ID' }, { key: 'psn_no', zh: '人员编号' }, { key: 'feedetl_sn', zh: '费用明细流水号' },
  { key: 'fixmedins_code', zh: '定点机构编码' }, { key: 'fee_ocur_time', zh: '费用发生时间' }, { key: 'med_list_codg', zh: '医保目录编码' },
  { key: 'item_name', zh: '项目名称' }, { key: 'medins_list_codg', zh: '院内目录编码' }, { key: 'list_type', zh: '目录类别' },
  { key: 'med_chrgitm_type', zh: '收费项目类别' }, { key: 'cnt', zh: '数量' }, { key: 'pric', zh: '单价' },
  { key: 'det_item_fee_sumamt', zh: '明细项目费用总额' }, { key: 'bilg_dept_codg', zh: '开单科室' }, { key: 'bilg_dr_codg', zh: '开单医师' },
  { key: 'prd_days', zh: '周期天数' }, { key: 'hours', zh: '时长' }, { key: 'flagged', zh: '告警涉及' }, { key: 'reversed', zh: '已撤销' },
  { key: 'alert_ids', zh: '告警ID' },
]

function lineCells(l: FeeLineRec, alertsBySn: Map<string, string[]>): (string | number | boolean | null)[] {
  return LINE_COLUMNS.map((c) => (c.key === 'alert_ids' ? (alertsBySn.get(`${l.mdtrt_id}/${l.feedetl_sn}`) ?? []).join(' ') : l[c.key]))
}

function csvCell(v: string | number | boolean | null): string {
  const s = v === null ? '' : typeof v === 'boolean' ? (v ? '是' : '否') : String(v)
  // Quote everything that could split a cell, and neutralise formula injection for spreadsheet users.
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

/** Which alerts name each (visit, line). */
function alertsByLine(alerts: readonly PackAlert[]): Map<string, string[]> {
  const m = new Map<string, string[]>()
  for (const a of alerts) {
    const visits = a.refs.mdtrt_ids.length ? a.refs.mdtrt_ids : a.subject.mdtrt_id ? [a.subject.mdtrt_id] : []
    for (const v of visits) for (const sn of a.refs.feedetl_sns) m.set(`${v}/${sn}`, [...(m.get(`${v}/${sn}`) ?? []), a.alert_id])
  }
  return m
}

/** Personal fields are masked unless the pack is revealed; the pack is a file, so no schema stands between it and the reader. */
function protect(input: PackInput): PackInput {
  if (input.revealed) return input
  return {
    ...input,
    alerts: input.alerts.map((a) => ({ ...a, evidence: maskDeep(a.evidence) as Record<string, unknown> })),
    claims: { ...input.claims, visits: input.claims.visits.map((v) => ({ ...v, certno: maskCertno(v.certno), psn_name: maskName(v.psn_name), brdy: maskBirthday(v.brdy) })) },
  }
}

/**
 * The evidence pack for a case: case.json (everything, machine-readable),
 * lines.xlsx and lines.csv (the claim lines, Excel being the lingua franca of
 * hearings), report.html (printable, zh-CN) and manifest.json with the SHA-256
 * of every other file, so the pack's integrity can be shown later.
 */
export async function buildEvidencePack(raw: PackInput): Promise<{ zip: Uint8Array; manifest: Manifest }> {
  const input = protect(raw)
  const bySn = alertsByLine(input.alerts)
  const totals = {
    alerts: input.alerts.length,
    amount_at_risk: sumYuan(input.alerts.map((a) => a.amount_at_risk)),
    recovered_amount: sumYuan(input.alerts.map((a) => a.workflow.decision?.recovered_amount ?? '0')),
    penalty_amount: sumYuan(input.alerts.map((a) => a.workflow.decision?.penalty_amount ?? '0')),
    fee_lines: input.claims.fee_lines.length,
    flagged_lines: input.claims.fee_lines.filter((l) => l.flagged).length,
  }
  const caseJson = strToU8(JSON.stringify({
    case: input.case, totals, alerts: input.alerts, ...input.claims, timeline: input.timeline,
    generated_at: input.generated_at, generated_by: input.generated_by, purpose: input.purpose, revealed: input.revealed,
  }, null, 2))

  const header = LINE_COLUMNS.map((c) => `${c.zh}(${c.key})`)
  const rows = input.claims.fee_lines.map((l) => lineCells(l, bySn))
  // BOM: Excel opens a UTF-8 CSV with Chinese headers correctly only with it.
  const csv = strToU8('\uFEFF' + [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n')

  const wb = new ExcelJS.Workbook()
  wb.creator = 'fundwatch'
  wb.created = new Date(input.generated_at)
  const ws = wb.addWorksheet('费用明细')
  ws.addRow(header)
  for (const r of rows) ws.addRow(r.map((v) => (typeof v === 'boolean' ? (v ? '是' : '否') : v)))
  ws.getRow(1).font = { bold: true }
  ws.views = [{ state: 'frozen', ySplit: 1 }]
  const wa = wb.addWorksheet('告警')
  wa.addRow(['告警ID', '规则', '规则版本', '结果', '严重程度', '定点机构', '人员编号', '涉嫌违规金额', '状态', '追回金额', '政策依据', '说明', '发现时间'])
  for (const a of input.alerts) {
    wa.addRow([a.alert_id, a.title.zh, `${a.detector.id}@${a.detector.version}`, a.result, a.severity, a.subject.fixmedins_code, a.subject.psn_no ?? '',
      Number(a.amount_at_risk), STATUS_LABELS[a.workflow.status].zh, Number(a.workflow.decision?.recovered_amount ?? 0), a.basis.zh, a.message.zh, a.detected_at])
  }
  wa.getRow(1).font = { bold: true }
  const wsSetl = wb.addWorksheet('结算')
  wsSetl.addRow(['结算ID', '就诊ID', '人员编号', '结算时间', '医疗费总额', '基金支付总额', '统筹基金支付', '个人现金支付', '已撤销'])
  for (const s of input.claims.settlements) wsSetl.addRow([s.setl_id, s.mdtrt_id, s.psn_no, s.setl_time, Number(s.medfee_sumamt), Number(s.fund_pay_sumamt), Number(s.hifp_pay), Number(s.psn_cash_pay), s.reversed ? '是' : '否'])
  wsSetl.getRow(1).font = { bold: true }
  const xlsx = new Uint8Array(await wb.xlsx.writeBuffer())

  const html = strToU8(renderReport({ ...input, totals }))

  const files: Record<(typeof PACK_FILES)[number], Uint8Array> = { 'case.json': caseJson, 'lines.xlsx': xlsx, 'lines.csv': csv, 'report.html': html }
  const manifest: Manifest = {
    case_id: input.case.case_id, generated_at: input.generated_at, generated_by: input.generated_by, purpose: input.purpose, revealed: input.revealed,
    algorithm: 'SHA-256',
    files: PACK_FILES.map((name) => ({ name, bytes: files[name].byteLength, sha256: sha256(files[name]) })),
  }
  const mtime = new Date(input.generated_at)
  const zip = zipSync({
    ...Object.fromEntries(PACK_FILES.map((n) => [n, [files[n], { mtime }]])),
    'manifest.json': [strToU8(JSON.stringify(manifest, null, 2)), { mtime }],
  })
  return { zip, manifest }
}
