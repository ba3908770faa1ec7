import { api } from '../api.ts'
import { h, mount } from '../dom.ts'
import { colon, getLang, t } from '../i18n.ts'
import type { DeadLetterDetail, DeadLetterListing } from '../types.ts'
import { fail, toast } from '../ui.ts'

// The records the pipeline refused (admins): reason counts per China day, the
// newest records, and one record's validation problems and raw text. The API
// masks personal data in the raw text (admin is not the inspector role) and
// writes every opened or exported record to the access log.

const when = (iso: string) => iso.replace('T', ' ').replace(/\+08:00$/, '')

export function deadLettersView(root: HTMLElement, params: string[], query: URLSearchParams): () => void {
  let disposed = false
  const reason = query.get('reason') ?? ''
  const filter = { reason: reason || undefined, from: query.get('from') || undefined, to: query.get('to') || undefined }
  mount(root, h('div', { class: 'muted' }, t('loading')))
  const list = api.get<DeadLetterListing>('/dead-letters', { ...filter, limit: 100 })
  const one = params[0] ? api.get<{ dead_letter: DeadLetterDetail }>(`/dead-letters/${params[0]}`) : Promise.resolve(undefined)
  void Promise.all([list, one]).then(([l, d]) => {
    if (disposed) return
    mount(root,
      h('h1', null, t('dlq.title')),
      h('p', { class: 'muted' }, t('dlq.intro')),
      h('div', { style: 'display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1.2fr);gap:12px;align-items:start' },
        h('div', null, counts(l, reason), records(l, params[0], reason)),
        d ? detail(d.dead_letter) : h('section', { class: 'panel' }, h('div', { class: 'body muted' }, t('dlq.pick')))),
      h('p', null, h('button', { type: 'button', id: 'dlq-export', onclick: () => void exportAll(filter) }, t('dlq.export')), ' ', h('span', { class: 'faint' }, t('dlq.exportNote'))))
  }).catch((e: unknown) => {
    if (!disposed) fail(e)
  })
  return () => {
    disposed = true
  }
}

function counts(l: DeadLetterListing, reason: string): HTMLElement {
  const days = [...new Set(l.counts.map((c) => c.day))].reverse()
  const top = Math.max(1, ...days.map((d) => l.counts.filter((c) => c.day === d).reduce((a, c) => a + c.count, 0)))
  return h('section', { class: 'panel', id: 'dlq-counts' },
    h('h2', null, t('dlq.counts'), h('span', { class: 'faint' }, ` ${l.from.slice(0, 10)} – ${(l.to ?? '').slice(0, 10) || t('dlq.now')} · ${t('dlq.total')}${colon()}${l.total}`),
      reason ? h('a', { href: '/dead-letters', style: 'margin-left:auto' }, t('dlq.allReasons')) : null),
    days.length === 0 ? h('div', { class: 'body muted' }, t('dlq.none')) : h('table', { class: 'grid' },
      h('thead', null, h('tr', null, h('th', null, t('dlq.day')), h('th', { class: 'num' }, t('dlq.count')), h('th', null, ''), h('th', null, t('dlq.reason')))),
      h('tbody', null, days.map((day) => {
        const rows = l.counts.filter((c) => c.day === day)
        const sum = rows.reduce((a, c) => a + c.count, 0)
        return h('tr', { 'data-day': day },
          h('td', { class: 'mono nowrap' }, day),
          h('td', { class: 'num' }, sum),
          h('td', null, h('div', { class: 'bar' }, h('i', { style: `width:${Math.round((sum / top) * 100)}%` }))),
          h('td', null, rows.map((c) => h('div', { class: 'nowrap' }, h('a', { class: 'mono', href: `/dead-letters?reason=${encodeURIComponent(c.reason)}` }, c.reason), h('span', { class: 'faint' }, ` × ${c.count}`)))))
      }))))
}

function records(l: DeadLetterListing, open: string | undefined, reason: string): HTMLElement {
  const q = reason ? `?reason=${encodeURIComponent(reason)}` : ''
  return h('section', { class: 'panel', style: 'margin-top:12px' },
    h('h2', null, t('dlq.latest'), h('span', { class: 'faint' }, ` ${l.dead_letters.length}${l.next ? '+' : ''}`)),
    h('table', { class: 'grid', id: 'dlq-list' },
      h('thead', null, h('tr', null, h('th', null, t('dlq.received')), h('th', null, t('dlq.reason')), h('th', null, t('dlq.institution')), h('th', null, t('dlq.source')))),
      h('tbody', null, l.dead_letters.map((d) => h('tr', { 'data-id': d.dlq_id, class: d.dlq_id === open ? 'on' : null },
        h('td', { class: 'nowrap' }, h('a', { href: `/dead-letters/${d.dlq_id}${q}` }, when(d.received_at))),
        h('td', { class: 'mono', style: 'word-break:break-all' }, d.reason),
        h('td', { class: 'mono nowrap' }, d.fixmedins_code ?? '—'),
        h('td', { class: 'mono faint', style: 'word-break:break-all' }, d.source))))))
}

function detail(d: DeadLetterDetail): HTMLElement {
  let pretty = d.raw_text
  try {
    pretty = JSON.stringify(JSON.parse(d.raw_text), null, 2)
  } catch { /* not JSON: shown as it came */ }
  return h('section', { class: 'panel', id: 'dlq-detail' },
    h('h2', null, t('dlq.record'), h('span', { class: 'mono faint' }, ` ${d.dlq_id}`)),
    h('div', { class: 'body' },
      h('table', { class: 'kv' }, h('tbody', null,
        h('tr', null, h('th', null, t('dlq.reason')), h('td', { class: 'mono' }, h('b', null, d.reason))),
        h('tr', null, h('th', null, t('dlq.received')), h('td', null, when(d.received_at))),
        h('tr', null, h('th', null, t('dlq.source')), h('td', { class: 'mono' }, d.source)),
        h('tr', null, h('th', null, t('dlq.institution')), h('td', { class: 'mono' }, d.fixmedins_code ?? '—')),
        h('tr', null, h('th', null, t('dlq.size')), h('td', null, `${d.bytes} B${d.raw_utf8 ? '' : ` · ${t('dlq.notUtf8')}`}`)))),
      h('h3', { style: 'font-size:13px;margin:12px 0 4px' }, t('dlq.problems')),
      h('ol', { id: 'dlq-problems', class: 'mono', style: 'margin:0;padding-left:0;list-style-position:inside' }, d.detail.split('\n').map((p) => h('li', null, p))),
      h('h3', { style: 'font-size:13px;margin:12px 0 4px' }, t('dlq.raw'), h('span', { class: 'muted', style: 'font-weight:400' }, ` · ${t('masked.note')}`)),
      h('pre', { id: 'dlq-raw', class: 'mono', style: 'white-space:pre-wrap;word-break:break-all;max-height:420px;overflow:auto;background:#f6f8fa;padding:8px;margin:0' }, pretty),
      h('p', { class: 'faint', style: 'font-size:12px' }, t('dlq.resubmit'))))
}

async function exportAll(filter: Record<string, string | undefined>): Promise<void> {
  try {
    const { blob, filename } = await api.download('/dead-letters/export', filter)
    const a = h('a', { href: URL.createObjectURL(blob), download: filename })
    document.body.append(a)
    a.click()
    a.remove()
    toast(getLang() === 'zh' ? `已导出 ${filename}` : `Exported ${filename}`)
  } catch (e) {
    fail(e)
  }
}
