import { api } from '../api.ts'
import { h, mount } from '../dom.ts'
import { money, pct } from '../format.ts'
import { colon, counted, getLang, label, pick, t } from '../i18n.ts'
import type { AlertOrDegraded, DetectorInfo } from '../types.ts'
import { fail } from '../ui.ts'

// The rule catalog: what each detector looks for, its parameters (documented
// by its own zod schema, served as JSON Schema), and how its alerts fared in
// review — precision = confirmed / (confirmed + dismissed) — and, beside it,
// how the institutions answered its warnings: the share they sent back for
// correction (3103 返回修改). One line per detector; a click opens its
// description, policy basis and parameters.

function show(v: unknown): string {
  if (v === undefined) return '—'
  return typeof v === 'string' ? v : JSON.stringify(v)
}

// --- shadow mode (issue 14): what a detector in shadow would have raised, and a list to inspect them.
/**
 * "试运行：本应产生 N 条预警（¥…）· 查看" on the detector's page, for a detector in
 * shadow mode or with shadow alerts not yet live. The link opens the list
 * (GET /detectors/:id/shadow-alerts, scoped and masked like the feed) in place:
 * shadow alerts have no alert page, they are not in the feed.
 */
function shadowSection(d: DetectorInfo): HTMLElement | null {
  const s = d.stats.shadow
  if (d.mode !== 'shadow' && s.alerts === 0) return null
  const list = h('div', { class: 'shadow-list hidden', 'data-shadow-list': d.id })
  const load = async () => {
    const { alerts, total } = await api.get<{ alerts: AlertOrDegraded[]; total: number }>(`/detectors/${encodeURIComponent(d.id)}/shadow-alerts?limit=100`)
    mount(list, h('table', { class: 'grid' },
      h('tbody', null, alerts.map((a) => ('degraded' in a
        ? h('tr', null, h('td', { class: 'mono' }, a.alert_id), h('td', { colspan: 3, class: 'faint' }, a.problem))
        : h('tr', { 'data-shadow-alert': a.alert_id },
          h('td', { class: 'mono nowrap' }, a.subject.fixmedins_code),
          h('td', { class: 'nowrap' }, a.subject.psn_no ?? ''),
          h('td', null, pick(a.message)),
          h('td', { class: 'num nowrap' }, money(a.amount_at_risk)))))),
    alerts.length < total ? h('div', { class: 'faint' }, `${alerts.length} / ${total}`) : null))
  }
  const inspect = h('a', {
    href: '#', 'data-shadow-inspect': d.id,
    onclick: (e: Event) => {
      e.preventDefault()
      e.stopPropagation()
      list.classList.toggle('hidden')
      if (!list.classList.contains('hidden') && !list.firstChild) void load().catch(fail)
    },
  }, t('det.shadowInspect'))
  return h('div', { class: 'shadow', 'data-shadow': d.id, style: 'margin:4px 0' },
    h('span', { class: 'tag' }, t('det.shadowMode')), ' ',
    getLang() === 'zh'
      ? `${t('det.shadowWould')} ${counted(s.alerts, 'alert')}${t('det.shadowWouldEnd')}（${money(s.amount_at_risk)}）`
      : `${t('det.shadowWould')} ${counted(s.alerts, 'alert')} (${money(s.amount_at_risk)})`,
    ' · ', inspect, list)
}

export function detectorsView(root: HTMLElement): () => void {
  let disposed = false
  mount(root, h('div', { class: 'muted' }, t('loading')))
  void api.get<{ detectors: DetectorInfo[] }>('/detectors').then(({ detectors }) => {
    if (disposed) return
    const zh = getLang() === 'zh'
    const list = [...detectors].sort((a, b) => b.stats.alerts - a.stats.alerts || a.id.localeCompare(b.id))
    const COLS = 11
    const rows = list.flatMap((d) => {
      const props = d.params_schema.properties ?? {}
      const more = h('tr', { class: 'more hidden', 'data-more': d.id },
        h('td', { colspan: COLS, style: 'background:#fafbfc' },
          h('div', { class: 'two', style: 'grid-template-columns:minmax(0,1fr) minmax(0,1fr)' },
            h('div', null,
              shadowSection(d),
              h('p', { style: 'margin:4px 0' }, pick(d.description)),
              h('div', { class: 'basis' }, h('div', { class: 'muted', style: 'font-size:11px' }, t('alert.basis')), pick(d.basis)),
              h('p', { class: 'muted', style: 'font-size:12px' }, `${zh ? '模式' : 'Pattern'}${colon()}${pick(d.pattern)} · ${zh ? '结论' : 'Result'}${colon()}${label('result', d.result)} · ${zh ? '默认等级' : 'Default severity'}${colon()}${label('sev', d.severity)}${d.scenarios.length ? ` · ${zh ? '场景' : 'Scenarios'}${colon()}${d.scenarios.map((x) => label('scenario', x)).join(zh ? '、' : ', ')}` : ''}`)),
            Object.keys(props).length
              ? h('table', { class: 'grid params' },
                h('thead', null, h('tr', null, h('th', null, t('det.params')), h('th', null, t('det.value')), h('th', null, t('det.default')), h('th', null, t('det.desc')))),
                h('tbody', null, Object.entries(props).map(([name, p]) => h('tr', null,
                  h('td', { class: 'mono' }, name),
                  h('td', { class: 'mono' }, show(d.params[name])),
                  h('td', { class: 'mono faint' }, show(p.default)),
                  h('td', { class: 'muted', style: 'font-size:12px' }, (zh ? p.description_zh : undefined) ?? p.description ?? '')))))
              : h('div', { class: 'faint' }, '—'))))
      const line = h('tr', { 'data-id': d.id, style: 'cursor:pointer', title: pick(d.description), onclick: () => { more.classList.toggle('hidden'); caret.textContent = more.classList.contains('hidden') ? '▸' : '▾' } },
        h('td', { class: 'nowrap' }, h('b', null, pick(d.title))),
        h('td', { class: 'mono nowrap' }, d.id, h('span', { class: 'faint' }, ` v${d.version}`)),
        h('td', { class: 'nowrap' }, d.stages.map((s) => label('stage', s)).join(' / ')),
        h('td', null, d.enabled ? h('span', { class: 'tag confirmed' }, t('yes')) : h('span', { class: 'tag closed' }, t('no'))),
        h('td', { class: 'num' }, d.stats.alerts),
        h('td', { class: 'num' }, d.stats.open),
        h('td', { class: 'num' }, d.stats.confirmed),
        h('td', { class: 'num' }, d.stats.dismissed),
        h('td', { class: 'num' }, h('div', { class: 'row', style: 'justify-content:flex-end' },
          h('span', { class: 'precision' }, pct(d.stats.precision)),
          h('div', { class: 'bar', style: 'min-width:60px' }, h('i', { style: `width:${Math.round((d.stats.precision ?? 0) * 100)}%` })))),
        h('td', { class: 'num', title: `${d.stats.returned} / ${d.stats.answered}` }, h('span', { class: 'returned' }, pct(d.stats.returned_rate)),
          d.stats.answered ? h('span', { class: 'faint' }, ` (${d.stats.returned}/${d.stats.answered})`) : null),
        h('td', { class: 'num' }, money(d.stats.amount_at_risk)))
      const caret = h('span', { class: 'faint' }, '▸')
      line.firstElementChild!.prepend(caret, ' ')
      return [line, more]
    })
    mount(root,
      h('h1', null, t('det.title'), h('span', { class: 'faint', style: 'font-size:12px;font-weight:400' }, `${counted(detectors.length, 'detector')} · ${zh ? '点击查看参数与政策依据' : 'click for parameters and policy basis'}`)),
      h('section', { class: 'panel' },
        h('table', { class: 'grid', id: 'detectors' },
          h('thead', null, h('tr', null,
            ['det.name', 'det.id', 'det.stages', 'det.enabled', 'det.alerts', 'status.open', 'det.confirmed', 'det.dismissed', 'det.precision', 'det.returned', 'feed.amount'].map((k, i) =>
              h('th', { class: i >= 4 ? 'num' : '', title: k === 'det.returned' ? t('det.returnedHint') : null }, t(k as Parameters<typeof t>[0]))))),
          h('tbody', null, rows))))
  }).catch((e: unknown) => {
    if (!disposed) fail(e)
  })
  return () => {
    disposed = true
  }
}
