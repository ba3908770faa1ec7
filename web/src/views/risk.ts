import { api } from '../api.ts'
import { h, mount } from '../dom.ts'
import { money, pct } from '../format.ts'
import { t } from '../i18n.ts'
import type { InstitutionRisk } from '../types.ts'
import { fail } from '../ui.ts'

// Which designated institutions to look at first: open amount at risk, and how
// often their alerts were confirmed when reviewed. A row opens the feed filtered
// to that institution.

export function riskView(root: HTMLElement, _params: string[], query: URLSearchParams): () => void {
  const sort = query.get('sort') ?? 'open_amount'
  const admdvs = query.get('admdvs') ?? ''
  let disposed = false
  mount(root, h('div', { class: 'muted' }, t('loading')))
  void api.get<{ institutions: InstitutionRisk[] }>('/institutions/ranking', { limit: 200, sort, admdvs: admdvs || undefined }).then(({ institutions }) => {
    if (disposed) return
    const top = Math.max(1, ...institutions.map((i) => Number(i.open_amount_at_risk)))
    const sortLink = (key: string, k: Parameters<typeof t>[0]) =>
      h('th', { class: `num sortable${sort === key ? ' sorted' : ''}` }, h('a', { href: `/institutions?sort=${key}${admdvs ? `&admdvs=${admdvs}` : ''}` }, t(k), sort === key ? ' ↓' : ''))
    mount(root,
      h('h1', null, t('risk.title')),
      h('section', { class: 'panel' },
        h('table', { class: 'grid', id: 'ranking' },
          h('thead', null, h('tr', null,
            h('th', { class: 'num' }, t('risk.rank')), h('th', null, t('risk.institution')), h('th', null, t('risk.region')),
            h('th', { class: 'num' }, t('risk.open')), sortLink('open_amount', 'risk.openAmount'), h('th', null, ''),
            sortLink('confirmed_rate', 'risk.confirmedRate'), h('th', { class: 'num' }, `${t('det.confirmed')} / ${t('det.dismissed')}`),
            sortLink('alerts', 'risk.total'), h('th', { class: 'num' }, t('overdue')))),
          h('tbody', null, institutions.map((i, n) => h('tr', { 'data-id': i.fixmedins_code },
            h('td', { class: 'num faint' }, n + 1),
            h('td', null, h('a', { href: `/?fixmedins_code=${i.fixmedins_code}` }, i.name ?? i.fixmedins_code), h('div', { class: 'faint mono' }, i.fixmedins_code)),
            h('td', { class: 'mono' }, i.admdvs),
            h('td', { class: 'num' }, i.open_alerts),
            h('td', { class: 'num amount' }, money(i.open_amount_at_risk)),
            h('td', null, h('div', { class: 'bar risk' }, h('i', { style: `width:${Math.round((Number(i.open_amount_at_risk) / top) * 100)}%` }))),
            h('td', { class: 'num' }, pct(i.confirmed_rate)),
            h('td', { class: 'num muted' }, `${i.confirmed} / ${i.dismissed}`),
            h('td', { class: 'num' }, i.alerts),
            h('td', { class: i.overdue ? 'num due-late' : 'num faint' }, i.overdue)))))))
  }).catch((e: unknown) => {
    if (!disposed) fail(e)
  })
  return () => {
    disposed = true
  }
}
