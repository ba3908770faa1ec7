import { ApiError } from './api.ts'
import { h } from './dom.ts'
import { money } from './format.ts'
import { colon, counted, label, t } from './i18n.ts'

let toastTimer = 0

export function toast(text: string, kind: 'ok' | 'err' = 'ok'): void {
  document.querySelector('.toast')?.remove()
  const el = h('div', { class: `toast ${kind}`, role: 'status' }, text)
  document.body.append(el)
  window.clearTimeout(toastTimer)
  toastTimer = window.setTimeout(() => el.remove(), kind === 'err' ? 6000 : 2500)
}

/** A message staff can act on: the server's own message for refusals, a plain one for the rest. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 0) return t('err.network')
    if (err.status === 403) return `${t('err.forbidden')}${colon()}${err.message}`
    if (err.code === 'TRANSITION_REFUSED' || err.code === 'CONFLICT') return `${t('act.refused')}${colon()}${err.message}`
    return `${t('err.generic')} (${err.status})${colon()}${err.message}`
  }
  return `${t('err.generic')}${colon()}${(err as Error).message}`
}

export function fail(err: unknown): void {
  toast(errorText(err), 'err')
}

/**
 * A modal form. Resolves with the form's values on submit, null on cancel or
 * Escape. With `info`, a dialog that asks nothing: its one button closes it. The first field takes focus so a keyboard user never reaches for the mouse.
 */
export function dialog(title: string, fields: HTMLElement[], submitLabel: string, opts: { danger?: boolean; validate?: (f: FormData) => string | null; info?: boolean; wide?: boolean } = {}): Promise<FormData | null> {
  return new Promise((resolve) => {
    const err = h('div', { class: 'error hidden' })
    const form = h('form', { class: opts.wide ? 'dialog wide' : 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-label': title },
      h('h3', null, title),
      h('div', { class: 'body' }, fields, err),
      h('div', { class: 'foot' },
        // A dialog that only informs (the help) has nothing to cancel: one button closes it.
        opts.info ? null : h('button', { type: 'button', onclick: () => close(null) }, t('cases.cancel')),
        h('button', { type: 'submit', class: opts.danger ? 'danger' : 'primary' }, submitLabel)))
    const scrim = h('div', { class: 'scrim' }, form)
    const close = (v: FormData | null): void => {
      scrim.remove()
      document.removeEventListener('keydown', onKey, true)
      resolve(v)
    }
    // Escape closes the dialog and nothing else (the alert page would read it as "back to the list").
    // The page's single-letter shortcuts stand down on their own while a dialog is open (see typing()).
    const onKey = (e: KeyboardEvent): void => {
      if (e.key !== 'Escape') return
      e.stopPropagation()
      close(null)
    }
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const fd = new FormData(form)
      const problem = opts.validate?.(fd) ?? null
      if (problem) {
        err.textContent = problem
        err.classList.remove('hidden')
        return
      }
      close(fd)
    })
    scrim.addEventListener('mousedown', (e) => {
      if (e.target === scrim) close(null)
    })
    document.addEventListener('keydown', onKey, true)
    document.body.append(scrim)
    form.querySelector<HTMLElement>('input, select, textarea')?.focus()
  })
}

export function field(labelText: string, control: HTMLElement): HTMLElement {
  return h('label', null, labelText, control)
}

/** Alerts the API answered degraded: said once, with their ids, never shown as rows. */
export function warnDegraded(ids: readonly string[]): void {
  if (ids.length) toast(`${counted(ids.length, 'degraded')}: ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ' …' : ''}`, 'err')
}

/**
 * An alert's amount at risk. A zero is never shown as ¥0.00, which reads as
 * "nothing at stake": it means the rule had nothing to count yet. Visit-level
 * rules (identity misuse, after-death visits …) count what the insurance paid
 * (docs/design.md, "Amount at risk"), so before any settlement there is no
 * figure; the reason is said instead.
 */
export function atRisk(a: { amount_at_risk: string; refs: { setl_ids: readonly string[] } }, opts: { id?: string; big?: boolean } = {}): HTMLElement {
  if (!/^0*(\.0*)?$/.test(a.amount_at_risk)) return h('span', { id: opts.id ?? null }, money(a.amount_at_risk))
  const reason = t(a.refs.setl_ids.length ? 'amount.notCounted' : 'amount.unsettled')
  return h('span', { class: 'no-amount', id: opts.id ?? null, title: reason, 'data-reason': reason }, '—', opts.big ? h('span', { class: 'reason' }, reason) : null)
}

/**
 * The badge of an alert later facts changed: 已撤回 (its reason on hover) or
 * 已更新; nothing for one as first raised.
 */
export function lifecycleTag(a: { status: string; withdrawn_reason?: string; revision: number }): HTMLElement | null {
  if (a.status === 'withdrawn') return h('span', { class: 'tag withdrawn', 'data-lifecycle': 'withdrawn', title: label('withdrawn', a.withdrawn_reason) }, t('alert.withdrawn'))
  if (a.status === 'updated') return h('span', { class: 'tag updated', 'data-lifecycle': 'updated', title: `#${a.revision}` }, t('alert.updated'))
  return null
}
