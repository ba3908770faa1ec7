import { STATUS_LABELS } from '../review/workflow.ts'
import { cnIso } from '../util/time.ts'
import type { PackInput } from './pack-input.ts'

const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
const cn = (iso: string | null | undefined) => (iso ? cnIso(Date.parse(iso)).replace('T', ' ').replace('+08:00', '') : '')
const yuan = (v: string | number) => `¥${Number(v).toLocaleString('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`

const SUBJECT_KIND: Record<string, string> = { institution: '定点医药机构', doctor: '医师', person: '参保人' }
const SEVERITY: Record<string, string> = { critical: '严重', high: '高', medium: '中', low: '低' }
const RESULT: Record<string, string> = { violation: '违规', suspicious: '可疑' }
const LIST_TYPE: Record<string, string> = { drug: '药品', herb: '中药饮片', service: '诊疗项目', consumable: '医用耗材' }
const WHAT: Record<string, string> = { created: '立案', updated: '更新', closed: '结案', reopened: '重新打开', assign: '指派' }
/** Case events by name; alert steps as "from→to" in the workflow's own labels. */
const what = (w: string) => {
  const [from, to] = w.split('→') as [keyof typeof STATUS_LABELS, keyof typeof STATUS_LABELS | undefined]
  return to && STATUS_LABELS[from] && STATUS_LABELS[to] ? `${STATUS_LABELS[from].zh} → ${STATUS_LABELS[to].zh}` : (WHAT[w] ?? w)
}

/** Lines printed in the report; the rest are in lines.xlsx / lines.csv (the report says so). */
const MAX_PRINTED_LINES = 2000

/**
 * The printable report (zh-CN) for a hearing: who the case is about, the
 * alerts with the rule and policy basis each cites, the amounts, the claim
 * lines behind them and the timeline of the handling. Self-contained HTML with
 * print styles; no scripts, no external resources.
 */
export function renderReport(input: PackInput & { totals: { alerts: number; amount_at_risk: string; recovered_amount: string; penalty_amount: string; fee_lines: number; flagged_lines: number } }): string {
  const c = input.case
  const t = input.totals
  const subject = [
    `${SUBJECT_KIND[c.subject.kind] ?? c.subject.kind}`,
    c.subject.fixmedins_code && `机构编码 ${esc(c.subject.fixmedins_code)}${c.institution_name ? `（${esc(c.institution_name)}）` : ''}`,
    c.subject.doctor && `医师 ${esc(c.subject.doctor)}`,
    c.subject.psn_no && `人员编号 ${esc(c.subject.psn_no)}`,
  ].filter(Boolean).join('；')
  const lines = [...input.claims.fee_lines].sort((a, b) => Number(b.flagged) - Number(a.flagged)).slice(0, MAX_PRINTED_LINES)
  const persons = input.claims.visits.map((v) => `<tr><td>${esc(v.mdtrt_id)}</td><td>${esc(v.psn_no)}</td><td>${esc(v.psn_name)}</td><td>${esc(v.certno)}</td><td>${esc(v.brdy)}</td><td>${esc(v.gend === '1' ? '男' : v.gend === '2' ? '女' : '未知')}</td><td>${esc(cn(v.begntime))}</td><td>${esc(v.diagnoses.map((d) => `${d.diag_code} ${d.diag_name}`).join('；'))}</td><td>${v.cancelled_at ? `已撤销 ${esc(cn(v.cancelled_at))}` : ''}</td></tr>`).join('')
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>证据材料 ${esc(c.case_id)}</title>
<style>
  body { font: 13px/1.55 "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; color: #111; margin: 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 22px 0 6px; border-bottom: 1px solid #999; padding-bottom: 2px; }
  table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #bbb; padding: 3px 5px; vertical-align: top; text-align: left; }
  th { background: #f0f0f0; } td.n { text-align: right; font-variant-numeric: tabular-nums; } tr.flag td { background: #fff4e5; }
  .meta td:first-child { width: 9em; color: #444; } .small { color: #555; font-size: 11px; }
  @media print { body { margin: 10mm; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
</style>
</head>
<body>
<h1>医疗保障基金监管证据材料</h1>
<div class="small">案件编号 ${esc(c.case_id)} · 生成时间 ${esc(cn(input.generated_at))}（北京时间） · fundwatch</div>

<h2>一、案件概况</h2>
<table class="meta">
<tr><td>案件名称</td><td>${esc(c.title)}</td></tr>
<tr><td>监管对象</td><td>${subject}</td></tr>
<tr><td>案件状态</td><td>${c.status === 'closed' ? '已结案' : '办理中'}</td></tr>
<tr><td>立案时间</td><td>${esc(cn(c.created_at))}</td></tr>
<tr><td>告警数量</td><td>${t.alerts}</td></tr>
<tr><td>涉嫌违规金额</td><td>${yuan(t.amount_at_risk)}</td></tr>
<tr><td>已认定追回金额</td><td>${yuan(t.recovered_amount)}</td></tr>
<tr><td>罚款/违约金</td><td>${yuan(t.penalty_amount)}</td></tr>
<tr><td>导出人</td><td>${esc(input.generated_by.name)}（${esc(input.generated_by.role)}）</td></tr>
<tr><td>调阅目的</td><td>${esc(input.purpose)}</td></tr>
<tr><td>个人信息</td><td>${input.revealed ? '未脱敏（稽核人员依目的调阅，已记录）' : '已脱敏'}</td></tr>
${c.note ? `<tr><td>备注</td><td>${esc(c.note)}</td></tr>` : ''}
</table>

<h2>二、告警及规则依据</h2>
<table>
<tr><th>#</th><th>规则</th><th>结果/程度</th><th>说明</th><th>政策依据</th><th>涉嫌金额</th><th>处理状态</th><th>发现时间</th></tr>
${input.alerts.map((a, i) => `<tr><td>${i + 1}</td><td>${esc(a.title.zh)}<div class="small">${esc(a.detector.id)}@${esc(a.detector.version)} · ${esc(a.alert_id)}</div></td><td>${esc(RESULT[a.result] ?? a.result)} / ${esc(SEVERITY[a.severity] ?? a.severity)}</td><td>${esc(a.message.zh)}</td><td>${esc(a.basis.zh)}</td><td class="n">${yuan(a.amount_at_risk)}</td><td>${esc(STATUS_LABELS[a.workflow.status].zh)}${a.workflow.decision ? `<div class="small">追回 ${yuan(a.workflow.decision.recovered_amount)}${Number(a.workflow.decision.penalty_amount) ? `，罚款 ${yuan(a.workflow.decision.penalty_amount)}` : ''}${a.workflow.decision.measures ? `，${esc(a.workflow.decision.measures)}` : ''}</div>` : ''}${a.workflow.dismiss_reason ? `<div class="small">排除理由：${esc(a.workflow.dismiss_reason)}</div>` : ''}</td><td>${esc(cn(a.detected_at))}</td></tr>`).join('\n')}
</table>

<h2>三、就诊信息</h2>
<table>
<tr><th>就诊ID</th><th>人员编号</th><th>姓名</th><th>身份证号</th><th>出生日期</th><th>性别</th><th>入院/就诊时间</th><th>诊断</th><th>撤销</th></tr>
${persons || '<tr><td colspan="9">无</td></tr>'}
</table>

<h2>四、费用明细${lines.length < input.claims.fee_lines.length ? `（前 ${lines.length} 条，共 ${input.claims.fee_lines.length} 条，完整明细见 lines.xlsx）` : `（共 ${lines.length} 条，告警涉及 ${t.flagged_lines} 条，底色标出）`}</h2>
<table>
<tr><th>就诊ID</th><th>流水号</th><th>发生时间</th><th>目录编码</th><th>项目名称</th><th>类别</th><th>数量</th><th>单价</th><th>金额</th><th>开单医师</th><th>撤销</th></tr>
${lines.map((l) => `<tr${l.flagged ? ' class="flag"' : ''}><td>${esc(l.mdtrt_id)}</td><td>${esc(l.feedetl_sn)}</td><td>${esc(cn(l.fee_ocur_time))}</td><td>${esc(l.med_list_codg)}</td><td>${esc(l.item_name ?? '')}</td><td>${esc(LIST_TYPE[l.list_type] ?? l.list_type)}</td><td class="n">${esc(l.cnt)}</td><td class="n">${esc(l.pric)}</td><td class="n">${esc(l.det_item_fee_sumamt)}</td><td>${esc(l.bilg_dr_codg)}</td><td>${l.reversed ? '是' : ''}</td></tr>`).join('\n')}
</table>

<h2>五、结算信息</h2>
<table>
<tr><th>结算ID</th><th>就诊ID</th><th>结算时间</th><th>医疗费总额</th><th>基金支付</th><th>统筹支付</th><th>个人现金</th><th>分组</th><th>撤销</th></tr>
${input.claims.settlements.map((s) => `<tr><td>${esc(s.setl_id)}</td><td>${esc(s.mdtrt_id)}</td><td>${esc(cn(s.setl_time))}</td><td class="n">${yuan(s.medfee_sumamt)}</td><td class="n">${yuan(s.fund_pay_sumamt)}</td><td class="n">${yuan(s.hifp_pay)}</td><td class="n">${yuan(s.psn_cash_pay)}</td><td>${esc(s.pay_grp_type ? `${s.pay_grp_type} ${s.pay_grp_code}` : '')}</td><td>${s.reversed ? '是' : ''}</td></tr>`).join('\n') || '<tr><td colspan="9">无</td></tr>'}
</table>

<h2>六、办理过程</h2>
<table>
<tr><th>时间</th><th>事项</th><th>告警</th><th>办理人</th><th>意见/理由</th></tr>
${input.timeline.map((e) => `<tr><td>${esc(cn(e.at))}</td><td>${esc(what(e.what))}</td><td class="small">${esc(e.alert_id ?? '')}</td><td>${esc(e.by_name)}</td><td>${esc(e.reason)}</td></tr>`).join('\n')}
</table>

<p class="small">本材料各文件的 SHA-256 摘要记录于 manifest.json，可用于核验材料自导出后未被改动。依据医疗保障基金监管数据安全要求，本材料仅限办案使用，不得复制、公开或提供给无关人员。</p>
</body>
</html>
`
}
