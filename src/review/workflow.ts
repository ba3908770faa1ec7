import { z } from 'zod'
import type { Role } from '../auth/principal.ts'
import { FundwatchError } from '../errors.ts'

/**
 * The handling process the national measures require for every suspicious
 * item: 初审 → 复审 → 申诉 → 调查核实 → 违规处理, plus dismissal with a reason
 * from any open step and reopening a closed one.
 */
export const STATUSES = ['new', 'first_review', 'second_review', 'appeal', 'investigation', 'decided', 'dismissed'] as const
export const Status = z.enum(STATUSES)
export type Status = z.infer<typeof Status>
export const OPEN_STATUSES = ['new', 'first_review', 'second_review', 'appeal', 'investigation'] as const satisfies readonly Status[]
export type OpenStatus = (typeof OPEN_STATUSES)[number]
export const CLOSED_STATUSES = ['decided', 'dismissed'] as const satisfies readonly Status[]

export const STATUS_LABELS: Record<Status, { zh: string; en: string }> = {
  new: { zh: '待处理', en: 'New' },
  first_review: { zh: '初审', en: 'First review' },
  second_review: { zh: '复审', en: 'Second review' },
  appeal: { zh: '申诉', en: 'Appeal' },
  investigation: { zh: '调查核实', en: 'Investigation' },
  decided: { zh: '违规处理', en: 'Decided (violation)' },
  dismissed: { zh: '已排除', en: 'Dismissed' },
}

export function isOpen(s: Status): s is OpenStatus {
  return (OPEN_STATUSES as readonly Status[]).includes(s)
}

export interface TransitionRule {
  from: Status
  to: Status
  roles: readonly Role[]
  reason_required: boolean
  decision_required: boolean
}

const ALL: readonly Role[] = ['monitor', 'inspector', 'admin']
const CASEWORK: readonly Role[] = ['inspector', 'admin']
const rule = (from: Status, to: Status, roles: readonly Role[], needs: { reason?: boolean; decision?: boolean } = {}): TransitionRule =>
  ({ from, to, roles, reason_required: needs.reason ?? false, decision_required: needs.decision ?? false })

/**
 * Monitoring staff run the first two reviews and may dismiss while an item is
 * still with them; the appeal, investigation, decision and any reopening
 * belong to inspectors (admins can stand in).
 */
export const TRANSITIONS: readonly TransitionRule[] = [
  rule('new', 'first_review', ALL),
  rule('first_review', 'second_review', ALL),
  rule('second_review', 'appeal', CASEWORK),
  rule('second_review', 'investigation', CASEWORK),
  rule('appeal', 'investigation', CASEWORK),
  rule('second_review', 'decided', CASEWORK, { decision: true }),
  rule('appeal', 'decided', CASEWORK, { decision: true }),
  rule('investigation', 'decided', CASEWORK, { decision: true }),
  rule('new', 'dismissed', ALL, { reason: true }),
  rule('first_review', 'dismissed', ALL, { reason: true }),
  rule('second_review', 'dismissed', ALL, { reason: true }),
  rule('appeal', 'dismissed', CASEWORK, { reason: true }),
  rule('investigation', 'dismissed', CASEWORK, { reason: true }),
  rule('decided', 'first_review', CASEWORK, { reason: true }),
  rule('dismissed', 'first_review', CASEWORK, { reason: true }),
]

export interface TransitionRequest {
  to: Status
  reason?: string
  decision?: unknown
}

/** The rule that allows this step for this role, or the reason it is refused (TRANSITION_REFUSED / FORBIDDEN / BAD_REQUEST). */
export function checkTransition(from: Status, req: TransitionRequest, role: Role): TransitionRule {
  const candidates = TRANSITIONS.filter((t) => t.from === from && t.to === req.to)
  const r = candidates[0]
  if (!r) throw new FundwatchError('TRANSITION_REFUSED', `${from} → ${req.to} is not a step of the handling process`)
  if (!r.roles.includes(role)) throw new FundwatchError('FORBIDDEN', `${from} → ${req.to} is for ${r.roles.join(', ')}`)
  if (r.reason_required && !(req.reason && req.reason.trim().length >= 2)) throw new FundwatchError('BAD_REQUEST', `${from} → ${req.to} needs a reason`)
  if (r.decision_required && !req.decision) throw new FundwatchError('BAD_REQUEST', `${from} → ${req.to} needs a decision (recovered amount, penalty, measures)`)
  return r
}
