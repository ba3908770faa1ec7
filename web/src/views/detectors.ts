import { api } from '../api.ts'
import { h, mount } from '../dom.ts'
import { money, pct, when } from '../format.ts'
import { aside, colon, counted, getLang, label, pick, t, type Key } from '../i18n.ts'
import { go } from '../nav.ts'
import { getMe } from '../session.ts'
import { splitDegraded, type AlertOrDegraded, type DetectorInfo, type RuleChange, type RuleMode, type RulesInForce, type RuleVersion, type UserInfo } from '../types.ts'
import { dialog, fail, field, toast, warnDegraded } from '../ui.ts'

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

const modeOf = (d: DetectorInfo): RuleMode => d.mode

/**
 * What a detector in shadow mode would have raised, in the caller's scope —
 * "would have raised N alerts (¥…)" — and, on request, those alerts: they are
 * in no feed (their own table), so they are listed here, masked like the feed.
 */
function shadowNote(d: DetectorInfo): HTMLElement | null {
  const st = d.stats.shadow
  if (d.mode !== 'shadow' && !st.alerts) return null
  const list = h('div', { class: 'shadow-list' })
  const open = h('button', { type: 'button', 'data-shadow': d.id, disabled: !st.alerts, onclick: (e: Event) => {
    e.stopPropagation()
    open.disabled = true
    void api.get<{ alerts: AlertOrDegraded[]; total: number }>(`/detectors/${d.id}/shadow-alerts`, { limit: 50 }).then(({ alerts, total }) => {
      const { whole, degraded } = splitDegraded(alerts)
      warnDegraded(degraded)
      mount(list, h('table', { class: 'grid params', id: `shadow-${d.id}` },
        h('thead', null, h('tr', null, ['col.detected', 'col.institution', 'col.person', 'col.severity', 'col.amount', 'col.title'].map((k) => h('th', null, t(k as Key))))),
        h('tbody', null, whole.map((a) => h('tr', { 'data-alert': a.alert_id },
          h('td', { class: 'nowrap' }, when(a.detected_at)),
          h('td', null, a.institution_name ?? a.subject.fixmedins_code),
          h('td', { class: 'mono' }, a.subject.psn_no ?? ''),
          h('td', null, label('sev', a.severity)),
          h('td', { class: 'num' }, money(a.amount_at_risk)),
          h('td', { class: 'muted', style: 'font-size:12px' }, pick(a.message)))))),
      total > whole.length ? h('div', { class: 'faint' }, `${whole.length} / ${total}`) : null)
    }).catch((err: unknown) => {
      open.disabled = false
      fail(err)
    })
  } }, t('rules.shadowInspect'))
  return h('div', { class: 'shadow-note', 'data-detector': d.id },
    h('span', { class: 'tag shadow' }, label('mode', 'shadow')), ' ',
    h('span', { class: 'would' }, `${t('rules.shadowWould')} ${counted(st.alerts, 'alertWord')}${aside(money(st.amount_at_risk))}`), ' ',
    open, list)
}

const MODE_TAG: Record<RuleMode, string> = { on: 'confirmed', shadow: 'shadow', off: 'closed' }

/** ClickHouse's DateTime64 text (UTC, no zone) or RFC 3339, shown in China time. */
function changedAt(at: string): string {
  return when(/[zZ]|[+-]\d\d:?\d\d$/.test(at) ? at : `${at.replace(' ', 'T')}Z`)
}

/**
 * Only an admin without a scope may change the rule base (the server refuses
 * the others); the rest see the catalog without edit controls. The history is
 * shown to every admin (GET /rules is theirs).
 */
function canEdit(): boolean {
  const me = getMe()
  return me?.role === 'admin' && !me.admdvs.length && !me.fixmedins_codes.length
}

export function detectorsView(root: HTMLElement, _params: string[] = [], query: URLSearchParams = new URLSearchParams()): () => void {
  let disposed = false
  let disposeEditor: (() => void) | undefined
  const editing = query.get('edit')
  const admin = getMe()?.role === 'admin'
  mount(root, h('div', { class: 'muted' }, t('loading')))
  void Promise.all([
    api.get<{ detectors: DetectorInfo[] }>('/detectors'),
    admin ? api.get<RulesInForce>('/rules') : Promise.resolve(null),
    // Names for the history's "by" (user:<id>); a user outside this admin's scope stays an id.
    admin ? api.get<{ users: UserInfo[] }>('/users').catch(() => ({ users: [] })) : Promise.resolve({ users: [] }),
    // The editor and its YAML library load only when an admin opens it: the catalog stays one small bundle.
    editing && canEdit() ? import('./rule-editor.ts') : Promise.resolve(null),
  ]).then(([{ detectors }, rules, { users }, editorModule]) => {
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
              h('p', { style: 'margin:4px 0' }, pick(d.description)),
              shadowNote(d),
              h('div', { class: 'basis' }, h('div', { class: 'muted', style: 'font-size:11px' }, t('alert.basis')), pick(d.basis)),
              canEdit() && rules ? h('button', { type: 'button', 'data-edit': d.id, onclick: () => go(`/detectors?edit=${encodeURIComponent(d.id)}`) }, t('rules.editBtn')) : null,
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
        h('td', { class: 'mode', 'data-mode': modeOf(d) }, h('span', { class: `tag ${MODE_TAG[modeOf(d)]}` }, label('mode', modeOf(d)))),
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
    const target = editing ? detectors.find((d) => d.id === editing) : undefined
    const editor = target && rules && editorModule
      ? editorModule.ruleEditor({ detector: target, rules, onApplied: () => go('/detectors'), onClose: () => go('/detectors') })
      : undefined
    disposeEditor = editor?.dispose
    mount(root,
      editor?.el,
      editing && !editor ? h('p', { class: 'panel body error', id: 'rule-editor-refused' }, canEdit() ? `${t('rules.noDetector')}${colon()}${editing}` : admin ? t('rules.scoped') : t('err.forbidden')) : null,
      h('h1', null, t('det.title'), h('span', { class: 'faint', style: 'font-size:12px;font-weight:400' }, `${counted(detectors.length, 'detector')} · ${zh ? '点击查看参数与政策依据' : 'click for parameters and policy basis'}`)),
      h('section', { class: 'panel' },
        h('table', { class: 'grid', id: 'detectors' },
          h('thead', null, h('tr', null,
            ['det.name', 'det.id', 'det.stages', 'det.mode', 'det.alerts', 'status.open', 'det.confirmed', 'det.dismissed', 'det.precision', 'det.returned', 'feed.amount'].map((k, i) =>
              h('th', { class: i >= 4 ? 'num' : '', title: k === 'det.returned' ? t('det.returnedHint') : null }, t(k as Parameters<typeof t>[0]))))),
          h('tbody', null, rows))),
      rules ? history(rules, new Map(users.map((u) => [`user:${u.id}`, u.name]))) : null)
    // The editor opens at the top of the page, wherever in the list its button was.
    if (editor) window.scrollTo(0, 0)
  }).catch((e: unknown) => {
    if (!disposed) fail(e)
  })
  return () => {
    disposed = true
    disposeEditor?.()
  }
}

/**
 * The rule base's history, newest first: who, when, why, the hash. Any earlier
 * version can be restored (a new version with that text, its own reason: the
 * history is never rewritten) and any version read whole.
 */
function history(rules: RulesInForce, names: ReadonlyMap<string, string>): HTMLElement {
  const current = rules.changes.findIndex((c) => c.hash === rules.hash)
  const row = (c: RuleChange, i: number) => h('tr', { 'data-hash': c.hash, class: i === current ? 'current' : null },
    h('td', { class: 'nowrap' }, changedAt(c.at)),
    h('td', { class: 'nowrap by', title: c.by }, names.get(c.by) ?? c.by),
    h('td', { class: 'nowrap mono' }, c.source),
    h('td', { class: 'reason' }, c.reason ?? ''),
    h('td', { class: 'mono nowrap' }, c.hash.slice(0, 12), i === current ? h('span', { class: 'tag confirmed', style: 'margin-left:6px' }, t('rules.current')) : null),
    h('td', { class: 'num' }, c.detectors.length),
    h('td', { class: 'nowrap' },
      h('button', { type: 'button', 'data-view': c.hash, onclick: () => void viewVersion(c.hash) }, t('rules.view')),
      canEdit() && c.hash !== rules.hash ? h('button', { type: 'button', 'data-revert': c.hash, style: 'margin-left:6px', onclick: () => void revert(c, rules.hash) }, t('rules.revert')) : null))
  return h('section', { class: 'panel', id: 'rule-history', style: 'margin-top:12px' },
    h('h2', null, t('rules.history'), h('span', { class: 'faint', style: 'font-weight:400;font-size:12px' }, ` · ${t('rules.historyHint')}`)),
    rules.changes.length
      ? h('table', { class: 'grid' },
        h('thead', null, h('tr', null, ['rules.at', 'rules.by', 'rules.source', 'rules.why', 'rules.hash', 'rules.detectors', ''].map((k, i) =>
          h('th', { class: i === 5 ? 'num' : null }, k ? t(k as Parameters<typeof t>[0]) : '')))),
        h('tbody', null, rules.changes.map(row)))
      : h('p', { class: 'body muted' }, t('rules.noHistory')))
}

async function viewVersion(hash: string): Promise<void> {
  try {
    const v = await api.get<RuleVersion>(`/rules/versions/${hash}`)
    await dialog(`${t('rules.versionTitle')} ${hash.slice(0, 12)}`, [
      h('div', { class: 'muted' }, `${changedAt(v.at)} · ${v.by} · ${v.source}${v.reason ? ` · ${v.reason}` : ''}`),
      h('pre', { class: 'yaml', id: 'rule-version-text' }, v.text || '# —'),
    ], t('close'), { info: true, wide: true })
  } catch (e) {
    fail(e)
  }
}

async function revert(c: RuleChange, inForce: string): Promise<void> {
  const reason = h('textarea', { name: 'reason', rows: 3, maxlength: 500, placeholder: t('rules.reasonHint') })
  const fd = await dialog(`${t('rules.revertTitle')} ${c.hash.slice(0, 12)}`, [
    h('div', { class: 'muted' }, `${changedAt(c.at)} · ${c.by}${c.reason ? ` · ${c.reason}` : ''}`),
    field(t('rules.reason'), reason),
  ], t('rules.revert'), { danger: true, validate: (f) => (String(f.get('reason') ?? '').trim() ? null : t('rules.reason')) })
  if (!fd) return
  try {
    const r = await api.post<{ hash: string }>('/rules/revert', { hash: c.hash, reason: String(fd.get('reason')).trim(), expected_hash: inForce })
    toast(`${t('rules.reverted')} ${r.hash.slice(0, 12)}`)
    go('/detectors')
  } catch (e) {
    fail(e)
  }
}
