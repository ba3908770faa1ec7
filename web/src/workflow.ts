import { api } from './api.ts'
import { h } from './dom.ts'
import { colon, getLang, label, t } from './i18n.ts'
import { getMe } from './session.ts'
import type { Status, Workflow, WorkflowConfig } from './types.ts'
import { dialog, field } from './ui.ts'

// The handling process of the national measures: 初审 → 复审 → 申诉 → 调查核实 →
// 违规处理, plus dismissing and reopening. Which moves a role may make comes
// from the server (GET /workflow); the console only offers those.

let config: WorkflowConfig | null = null

export async function loadWorkflow(): Promise<WorkflowConfig> {
  config ??= await api.get<WorkflowConfig>('/workflow')
  return config
}

export function statusLabel(s: Status | string): string {
  const fromServer = config?.statuses.find((x) => x.status === s)
  if (fromServer) return getLang() === 'zh' ? fromServer.zh : fromServer.en
  return label('step', s)
}

export interface Move { to: Status; reasonRequired: boolean; decisionRequired: boolean; reopen: boolean }

/** The moves the current user may make from a status, in the order the process runs. */
export function movesFrom(status: Status): Move[] {
  const role = getMe()?.role
  const closed = status === 'decided' || status === 'dismissed'
  return (config?.transitions ?? [])
    .filter((tr) => tr.from === status && role !== undefined && tr.roles.includes(role))
    .map((tr) => ({ to: tr.to, reasonRequired: tr.reason_required, decisionRequired: tr.decision_required, reopen: closed }))
}

// "Confirm" is the reviewer's quick verdict that the finding stands: the alert
// moves one step along the process. Where more than one step follows (after
// 复审: 申诉 or 调查核实), confirming goes the usual way, to 调查核实; the rest
// are under "next step".
const FORWARD: Partial<Record<Status, Status[]>> = {
  new: ['first_review'],
  first_review: ['second_review'],
  second_review: ['investigation', 'appeal', 'decided'],
  appeal: ['investigation', 'decided'],
  investigation: ['decided'],
}

export function confirmMove(status: Status): Move | null {
  const moves = movesFrom(status)
  for (const to of FORWARD[status] ?? []) {
    const m = moves.find((x) => x.to === to)
    if (m) return m
  }
  return null
}

/** Every forward move (not dismiss, not reopen). */
export function forwardMoves(status: Status): Move[] {
  return movesFrom(status).filter((m) => m.to !== 'dismissed' && !m.reopen)
}

export function moveLabel(m: Move): string {
  if (m.reopen) return t('act.reopen')
  if (m.to === 'dismissed') return t('act.dismiss')
  const target = statusLabel(m.to)
  return getLang() === 'zh' ? (m.to === 'decided' ? `${target}…` : `转${target}`) : m.to === 'decided' ? `${target}…` : `To ${target.toLowerCase()}`
}

/** The forward move to make: the only one, or the one picked from a short list (number keys and Enter work). */
export async function chooseForward(status: Status): Promise<Move | undefined> {
  const options = forwardMoves(status)
  if (options.length <= 1) return options[0]
  const choice = h('select', { name: 'to', size: String(options.length) }, options.map((o, i) => h('option', { value: o.to, selected: i === 0 }, `${i + 1}. ${moveLabel(o)}`)))
  choice.addEventListener('keydown', (e) => {
    const n = Number(e.key)
    if (n >= 1 && n <= options.length) choice.selectedIndex = n - 1
  })
  const fd = await dialog(t('act.escalate'), [choice], t('act.escalate'))
  return fd ? options.find((o) => o.to === fd.get('to')) : undefined
}

const REASONS = ['false_positive', 'justified', 'duplicate', 'data_error', 'withdrawn', 'other'] as const

/**
 * Asks for what a move needs (a reason, a decision) and performs it. Resolves
 * with the new workflow, or null when the user cancelled. A withdrawn alert's
 * dismissal offers "alert withdrawn" as its reason first.
 */
export async function performMove(alertId: string, wf: Workflow, m: Move, alert: { status?: string } = {}): Promise<Workflow | null> {
  const body: Record<string, unknown> = { to: m.to, version: wf.version }
  if (m.reasonRequired) {
    const isDismiss = m.to === 'dismissed'
    const preset = h('select', { name: 'preset' }, REASONS.map((r) => h('option', { value: r, selected: alert.status === 'withdrawn' && r === 'withdrawn' }, label('reason', r))))
    const text = h('textarea', { name: 'reason', rows: 3, placeholder: t('act.reasonPrompt'), maxlength: 500 })
    const fields = isDismiss ? [field(t('act.reason'), preset), field(t('act.note'), text)] : [field(t('act.reason'), text)]
    const fd = await dialog(moveLabel(m), fields, moveLabel(m).replace('…', ''), {
      danger: isDismiss,
      validate: (f) => {
        const free = String(f.get('reason') ?? '').trim()
        const chosen = String(f.get('preset') ?? '')
        if (!isDismiss || chosen === 'other') return free.length >= 2 ? null : t('act.reasonPrompt')
        return null
      },
    })
    if (!fd) return null
    const free = String(fd.get('reason') ?? '').trim()
    const chosen = String(fd.get('preset') ?? '')
    body.reason = isDismiss && chosen !== 'other' ? [label('reason', chosen), free].filter(Boolean).join(colon()) : free
  }
  if (m.decisionRequired) {
    const fd = await dialog(statusLabel('decided'), [
      field(getLang() === 'zh' ? '追回金额（元）' : 'Recovered amount (yuan)', h('input', { name: 'recovered_amount', inputmode: 'decimal', value: '0.00', required: true, pattern: '\\d{1,12}(\\.\\d{1,2})?' })),
      field(getLang() === 'zh' ? '罚款金额（元）' : 'Penalty (yuan)', h('input', { name: 'penalty_amount', inputmode: 'decimal', value: '0.00', required: true, pattern: '\\d{1,12}(\\.\\d{1,2})?' })),
      field(getLang() === 'zh' ? '处理措施' : 'Measures', h('input', { name: 'measures', required: true, maxlength: 200, placeholder: getLang() === 'zh' ? '如：追回基金、约谈、暂停医保协议' : 'e.g. recover, interview, suspend agreement' })),
    ], statusLabel('decided'))
    if (!fd) return null
    body.decision = { recovered_amount: String(fd.get('recovered_amount')), penalty_amount: String(fd.get('penalty_amount')), measures: String(fd.get('measures')) }
  }
  const res = await api.post<{ workflow: Workflow }>(`/alerts/${alertId}/transitions`, body)
  return res.workflow
}
