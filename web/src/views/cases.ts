import { ApiError, api } from '../api.ts'
import { h, mount } from '../dom.ts'
import { dueIn, money, when, whenShort } from '../format.ts'
import { colon, counted, getLang, label, pick, t } from '../i18n.ts'
import { purpose } from '../session.ts'
import { splitDegraded, type AlertItem, type Case, type CaseDetail } from '../types.ts'
import { atRisk, dialog, fail, field, toast, warnDegraded } from '../ui.ts'
import { statusLabel } from '../workflow.ts'
import { fen, sumYuan, yuan } from '../../../src/util/money.ts'

// Inspectors group alerts about one institution, doctor or person into a case
// and take its evidence pack to a hearing. The pack is built by the server;
// the console asks for the purpose every export is logged with.

type Kind = Case['subject']['kind']

function common<T>(values: (T | undefined)[]): T | undefined {
  const first = values[0]
  return first !== undefined && values.every((v) => v === first) ? first : undefined
}

/** Asks for a title and subject and creates a case from alerts. Resolves with the new case id, or null. */
export async function createCaseDialog(alerts: AlertItem[]): Promise<string | null> {
  if (!alerts.length) return null
  const inst = common(alerts.map((a) => a.subject.fixmedins_code))
  const doctor = common(alerts.map((a) => a.subject.doctor))
  const psn = common(alerts.map((a) => a.subject.psn_no))
  const kind: Kind = inst ? 'institution' : doctor ? 'doctor' : psn ? 'person' : 'institution'
  const valueFor = (k: Kind): string => (k === 'institution' ? inst : k === 'doctor' ? doctor : psn) ?? ''
  const name = alerts.find((a) => a.institution_name)?.institution_name ?? inst ?? ''
  const total = sumYuan(alerts.map((a) => a.amount_at_risk))
  const zh = getLang() === 'zh'
  const subjectInput = h('input', { name: 'subject', value: valueFor(kind), required: true, maxlength: 40, class: 'mono' })
  const kindSelect = h('select', { name: 'kind', onchange: (e: Event) => { subjectInput.value = valueFor((e.target as HTMLSelectElement).value as Kind) } },
    (['institution', 'doctor', 'person'] as const).map((k) => h('option', { value: k, selected: k === kind }, label('cases.subject', k))))
  const fd = await dialog(t('cases.new'), [
    field(t('cases.name'), h('input', { name: 'title', required: true, maxlength: 200, value: zh ? `${name} 涉嫌违规 ${alerts.length} 条` : `${name}: ${alerts.length} suspected violations` })),
    h('div', { class: 'row' }, field(t('cases.subjectType'), kindSelect), h('div', { class: 'grow' }, field(t('cases.subject'), subjectInput))),
    field(t('act.note'), h('textarea', { name: 'note', rows: 2, maxlength: 2000 })),
    h('div', { class: 'muted' }, t('cases.fromAlerts'), ` ${counted(alerts.length, 'alert')}，${t('cases.amount')} ${money(total)}`),
  ], t('cases.create'))
  if (!fd) return null
  const k = String(fd.get('kind')) as Kind
  const subjectValue = String(fd.get('subject')).trim()
  const subject = { kind: k, ...(k === 'institution' ? { fixmedins_code: subjectValue } : k === 'doctor' ? { doctor: subjectValue, fixmedins_code: inst } : { psn_no: subjectValue }) }
  try {
    const res = await api.post<{ case: Case }>('/cases', { title: String(fd.get('title')).trim(), subject, alert_ids: alerts.map((a) => a.alert_id), note: String(fd.get('note') ?? '') })
    toast(t('cases.created.ok'))
    return res.case.case_id
  } catch (e) {
    fail(e)
    return null
  }
}

function subjectText(c: Case, institutionName?: string | null): string {
  const s = c.subject
  const v = s.kind === 'institution' ? s.fixmedins_code : s.kind === 'doctor' ? s.doctor : s.psn_no
  const name = s.kind === 'institution' && institutionName ? `${institutionName} ` : ''
  return `${label('cases.subject', s.kind)}${colon()}${name}${v ?? ''}`
}

/** Alerts of a case by detector: how many, how much — the shape of the case at a glance. */
function byDetector(alerts: AlertItem[]): { title: string; n: number; fen: bigint; open: number }[] {
  const m = new Map<string, { title: string; n: number; fen: bigint; open: number }>()
  for (const a of alerts) {
    const e = m.get(a.detector.id) ?? { title: pick(a.title), n: 0, fen: 0n, open: 0 }
    e.n++
    e.fen += fen(a.amount_at_risk)
    if (a.workflow.status !== 'decided' && a.workflow.status !== 'dismissed') e.open++
    m.set(a.detector.id, e)
  }
  return [...m.values()].sort((x, y) => (y.fen > x.fen ? 1 : y.fen < x.fen ? -1 : 0))
}

export function casesView(root: HTMLElement, _params: string[], query: URLSearchParams): () => void {
  const status = query.get('status') ?? 'open'
  let disposed = false
  let next: string | undefined
  const tbody = h('tbody')
  const foot = h('div', { class: 'foot' }, t('loading'))
  const tab = (s: string, text: string) => h('a', { href: `/cases?status=${s}`, class: s === status ? 'tag step' : 'tag' }, text)
  mount(root,
    h('h1', null, t('cases.title'), tab('open', t('cases.open')), tab('closed', t('cases.closed')), tab('all', t('feed.any'))),
    h('section', { class: 'panel' },
      h('table', { class: 'grid', id: 'cases' },
        h('thead', null, h('tr', null, ['cases.name', 'cases.subject', 'cases.alerts', 'cases.amount', 'cases.status', 'cases.created'].map((k, i) => h('th', { class: i === 2 || i === 3 ? 'num' : '' }, t(k as Parameters<typeof t>[0]))))),
        tbody),
      foot))

  const row = (c: Case) => h('tr', { 'data-id': c.case_id },
    h('td', null, h('a', { href: `/cases/${c.case_id}` }, c.title)),
    h('td', { class: 'mono' }, subjectText(c)),
    h('td', { class: 'num' }, c.alert_ids.length),
    h('td', { class: 'num amount' }, money(c.amount_at_risk)),
    h('td', null, h('span', { class: `tag ${c.status === 'closed' ? 'closed' : 'step'}` }, c.status === 'closed' ? t('cases.closed') : t('cases.open'))),
    h('td', { class: 'muted' }, when(c.created_at)))

  const load = async (): Promise<void> => {
    try {
      const res = await api.get<{ cases: Case[]; next?: string }>('/cases', { status: status === 'all' ? undefined : status, limit: 100, cursor: next })
      if (disposed) return
      tbody.append(...res.cases.map(row))
      next = res.next
      if (next) mount(foot, h('button', { type: 'button', onclick: () => void load() }, t('feed.more')))
      else foot.textContent = tbody.children.length ? t('feed.end') : t('cases.empty')
    } catch (e) {
      if (!disposed) fail(e)
    }
  }
  void load()
  return () => {
    disposed = true
  }
}

export function caseView(root: HTMLElement, params: string[]): () => void {
  const id = params[0]!
  let disposed = false
  mount(root, h('div', { class: 'muted' }, t('loading')))

  const load = async (): Promise<void> => {
    try {
      const res = await api.get<CaseDetail>(`/cases/${id}`)
      if (disposed) return
      const { whole, degraded } = splitDegraded(res.alerts)
      warnDegraded(degraded)
      draw({ ...res, alerts: whole })
    } catch (e) {
      if (disposed) return
      if (e instanceof ApiError && e.status === 404) mount(root, h('a', { href: '/cases' }, '← ', t('cases.title')), h('p', { class: 'error' }, t('cases.notFound')))
      else fail(e)
    }
  }

  function draw(d: Omit<CaseDetail, 'alerts'> & { alerts: AlertItem[] }): void {
    const c = d.case
    const zh = getLang() === 'zh'
    const dl = h('button', { type: 'button', class: 'primary', id: 'download-evidence', onclick: () => void download(c, dl) }, t('cases.download'))
    const toggle = h('button', { type: 'button', onclick: () => void setStatus(c, c.status === 'open' ? 'closed' : 'open') }, c.status === 'open' ? (zh ? '结案' : 'Close case') : (zh ? '重新立案' : 'Reopen case'))
    mount(root,
      h('div', { class: 'row', style: 'margin-bottom:8px' }, h('a', { href: '/cases', class: 'muted' }, '← ', t('cases.title'))),
      h('div', { class: 'two' },
        h('div', { class: 'stack', style: 'display:flex;flex-direction:column;gap:12px;min-width:0' },
          h('section', { class: 'panel' },
            h('header', null,
              h('h1', { style: 'margin:0', id: 'case-title' }, c.title, h('span', { class: `tag ${c.status === 'closed' ? 'closed' : 'step'}` }, c.status === 'closed' ? t('cases.closed') : t('cases.open'))),
              h('span', { class: 'grow' }), toggle, dl),
            h('div', { class: 'stats' },
              h('div', null, h('b', { id: 'case-alerts' }, d.totals.alerts), h('span', null, t('cases.alerts'))),
              h('div', null, h('b', null, d.totals.open_alerts), h('span', null, zh ? '未办结预警' : 'Open alerts')),
              h('div', null, h('b', { class: 'amount', style: 'color:var(--crit)', id: 'case-amount' }, money(d.totals.amount_at_risk)), h('span', null, t('cases.amount'))),
              h('div', null, h('b', null, money(d.totals.recovered_amount)), h('span', null, zh ? `已追回（罚款 ${money(d.totals.penalty_amount)}）` : `Recovered (penalty ${money(d.totals.penalty_amount)})`))),
            h('div', { class: 'body' }, h('table', { class: 'kv' },
              h('tr', null, h('th', null, t('cases.subject')), h('td', null, subjectText(c, d.alerts.find((a) => a.subject.fixmedins_code === c.subject.fixmedins_code)?.institution_name))),
              h('tr', null, h('th', null, t('feed.institution')), h('td', { class: 'mono' }, c.fixmedins_codes.join('，'))),
              h('tr', null, h('th', null, t('feed.region')), h('td', { class: 'mono' }, c.admdvs.join('，'))),
              h('tr', null, h('th', null, t('cases.created')), h('td', null, when(c.created_at))),
              c.note ? h('tr', null, h('th', null, t('act.note')), h('td', null, c.note)) : null))),
          h('section', { class: 'panel' },
            h('h2', null, t('cases.alertList')),
            h('table', { class: 'grid', id: 'case-alert-list' },
              h('thead', null, h('tr', null, ['col.severity', 'col.detected', 'col.title', 'col.person', 'col.step', 'col.due', 'col.amount'].map((k, i) => h('th', { class: i === 6 ? 'num' : '' }, t(k as Parameters<typeof t>[0]))))),
              h('tbody', null, d.alerts.map((a) => {
                const due = dueIn(a.workflow.due_at)
                const closed = a.workflow.status === 'decided' || a.workflow.status === 'dismissed'
                return h('tr', { 'data-id': a.alert_id },
                  h('td', null, h('span', { class: `sev ${a.severity}` }, label('sev', a.severity))),
                  h('td', { class: 'muted nowrap' }, whenShort(a.detected_at)),
                  h('td', null, h('a', { href: `/alerts/${a.alert_id}` }, pick(a.title)), h('div', { class: 'faint', style: 'font-size:12px' }, pick(a.message))),
                  h('td', { class: 'mono' }, a.subject.psn_no ?? ''),
                  h('td', null, h('span', { class: `tag ${closed ? a.workflow.status : 'step'}` }, statusLabel(a.workflow.status))),
                  h('td', { class: a.workflow.overdue ? 'due-late nowrap' : 'muted nowrap' }, closed ? '' : due.text),
                  h('td', { class: 'num amount' }, atRisk(a)))
              }))))),
        h('aside', { style: 'display:flex;flex-direction:column;gap:12px' },
          h('section', { class: 'panel', id: 'case-rules' },
            h('h2', null, zh ? '按规则汇总' : 'By detector'),
            h('table', { class: 'grid' },
              h('thead', null, h('tr', null, h('th', null, t('col.rule')), h('th', { class: 'num' }, t('cases.alerts')), h('th', { class: 'num' }, t('cases.amount')))),
              h('tbody', null, byDetector(d.alerts).map((r) => h('tr', null,
                h('td', null, r.title, r.open < r.n ? h('div', { class: 'faint', style: 'font-size:11px' }, zh ? `已办结 ${r.n - r.open}` : `${r.n - r.open} closed`) : null),
                h('td', { class: 'num' }, r.n),
                h('td', { class: 'num amount' }, money(yuan(r.fen)))))))),
          h('section', { class: 'panel', id: 'case-timeline' },
            h('h2', null, zh ? '案件记录' : 'Record'),
            d.timeline.length
              ? h('ul', { class: 'history' }, [...d.timeline].sort((x, y) => (x.at < y.at ? 1 : -1)).map((e) => h('li', null,
                h('div', null, h('b', null, timelineWhat(e.what)), ' · ', e.by_name),
                e.reason ? h('div', null, e.reason) : null,
                h('div', { class: 'when' }, when(e.at), e.alert_id ? h('a', { href: `/alerts/${e.alert_id}`, class: 'mono', style: 'margin-left:6px' }, e.alert_id.slice(0, 8)) : null))))
              : h('div', { class: 'body faint' }, t('alert.noHistory'))))))
  }

  function timelineWhat(what: string): string {
    const zh = getLang() === 'zh'
    const arrow = /^(\w+)→(\w+)$/.exec(what)
    if (arrow) return `${statusLabel(arrow[1]!)} → ${statusLabel(arrow[2]!)}`
    const words: Record<string, [string, string]> = { assign: ['指派', 'Assigned'], created: ['立案', 'Opened'], closed: ['结案', 'Closed'], reopened: ['重新立案', 'Reopened'], alerts_added: ['加入预警', 'Alerts added'], alerts_removed: ['移出预警', 'Alerts removed'], exported: ['导出证据包', 'Evidence exported'], updated: ['修改', 'Updated'] }
    const w = words[what]
    return w ? w[zh ? 0 : 1] : what
  }

  async function setStatus(c: Case, status: 'open' | 'closed'): Promise<void> {
    try {
      await api.patch(`/cases/${c.case_id}`, { version: c.version, status })
      await load()
    } catch (e) {
      fail(e)
    }
  }

  async function download(c: Case, btn: HTMLButtonElement): Promise<void> {
    // Every export is written to the access log with its purpose, so ask each time (prefilled with the session's).
    const fd = await dialog(t('cases.download'), [
      field(t('purpose.label'), h('input', { name: 'purpose', required: true, minlength: 2, maxlength: 200, value: purpose() ?? '', placeholder: t('purpose.placeholder') })),
    ], t('cases.download'), { validate: (f) => (String(f.get('purpose') ?? '').trim().length >= 2 ? null : t('cases.purposeNeeded')) })
    if (!fd) return
    btn.disabled = true
    btn.textContent = t('cases.downloading')
    try {
      const { blob, filename } = await api.download(`/cases/${c.case_id}/evidence.zip`, { purpose: String(fd.get('purpose')).trim() })
      const url = URL.createObjectURL(blob)
      const a = h('a', { href: url, download: filename, style: 'display:none' })
      document.body.append(a)
      a.click()
      a.remove()
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000)
      toast(`${t('cases.downloaded')}${colon()}${filename}`)
    } catch (e) {
      fail(e)
    } finally {
      btn.disabled = false
      btn.textContent = t('cases.download')
    }
  }

  void load()
  return () => {
    disposed = true
  }
}
