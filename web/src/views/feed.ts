import { api, type Query } from '../api.ts'
import { h, mount, typing } from '../dom.ts'
import { dayAfter, dayStart, dueIn, money, whenShort } from '../format.ts'
import { colon, counted, label, pick, t } from '../i18n.ts'
import { announce, onLive } from '../live.ts'
import { go } from '../nav.ts'
import { getMe } from '../session.ts'
import { ALL_STATUSES, OPEN_STATUSES, splitDegraded, type AlertItem, type AlertOrDegraded, type DetectorInfo, type InstitutionRisk, type Workflow } from '../types.ts'
import { atRisk, fail, lifecycleTag, toast, warnDegraded } from '../ui.ts'
import { chooseForward, confirmMove, forwardMoves, movesFrom, performMove, statusLabel, type Move } from '../workflow.ts'
import { detectorCatalog } from '../catalog.ts'
import { createCaseDialog } from './cases.ts'
import { compareYuan, sumYuan } from '../../../src/util/money.ts'

// The screen staff spend their day on. Built for the keyboard (j/k, Enter,
// c/d/e), for not losing one's place (live alerts slot in above without moving
// the row under the cursor; coming back from an alert restores the list), and
// for never showing the same alert twice (rows are keyed by alert_id).

const FILTER_KEYS = ['fixmedins_code', 'admdvs', 'detector', 'severity', 'status', 'lifecycle', 'stage', 'result', 'amount_min', 'amount_max', 'from', 'to', 'overdue', 'mine', 'sort'] as const
type FilterKey = (typeof FILTER_KEYS)[number]
type Filters = Partial<Record<FilterKey, string>>

interface FeedState {
  key: string
  rows: AlertItem[]
  next: string | undefined
  cursor: string | null
  picked: Set<string>
  acted: Set<string>
  scrollY: number
}

/** Kept across screens so Esc from an alert comes back to the same list, same row. */
let saved: FeedState | null = null
let detectorsCache: DetectorInfo[] | null = null
let institutionsCache: InstitutionRisk[] | null = null

let lastUrl = '/'
/** Where "back to the list" goes: the feed with the filters last used. */
export const feedUrl = (): string => lastUrl

/** The alerts before and after one in the current list, for j/k on the alert page. */
export function neighbours(alertId: string): { prev?: string; next?: string } {
  const rows = saved?.rows ?? []
  const i = rows.findIndex((r) => r.alert_id === alertId)
  if (i < 0) return {}
  return { prev: rows[i - 1]?.alert_id, next: rows[i + 1]?.alert_id }
}

/** Lets the alert page tell the list what happened, so the list is current when staff come back. */
export function noteWorkflow(alertId: string, wf: Workflow, actedByMe: boolean): void {
  const row = saved?.rows.find((r) => r.alert_id === alertId)
  if (row) row.workflow = wf
  if (saved) {
    if (actedByMe) saved.acted.add(alertId)
    saved.cursor = alertId
  }
}

/** A typed day as yyyy-mm-dd ('' when empty, null when it is not a real day); 2026-3-2 and 2026/03/02 are taken too. */
function isoDay(text: string): string | null {
  const v = text.trim()
  if (!v) return ''
  const m = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$/.exec(v)
  if (!m) return null
  const out = `${m[1]}-${m[2]!.padStart(2, '0')}-${m[3]!.padStart(2, '0')}`
  const d = new Date(`${out}T00:00:00Z`)
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== out ? null : out
}

function filtersFrom(q: URLSearchParams): Filters {
  const f: Filters = {}
  for (const k of FILTER_KEYS) {
    const v = q.get(k)
    if (v) f[k] = v
  }
  return f
}

/** The API query for the filters; status "open" (the default) means every status still in the process. */
function apiQuery(f: Filters): Query {
  const status = f.status ?? 'open'
  return {
    sort: f.sort ?? 'newest',
    fixmedins_code: f.fixmedins_code,
    admdvs: f.admdvs,
    detector: f.detector,
    severity_in: f.severity === 'high+' ? 'high,critical' : f.severity,
    status: status === 'open' ? OPEN_STATUSES.join(',') : status === 'all' ? undefined : status,
    stage: f.stage,
    result: f.result,
    amount_min: f.amount_min,
    amount_max: f.amount_max,
    from: f.from ? dayStart(f.from) : undefined,
    to: f.to ? dayAfter(f.to) : undefined,
    overdue: f.overdue === 'true' ? 'true' : undefined,
    assignee: f.mine === 'true' ? 'me' : undefined,
    // Absent: the API's default, current (withdrawn alerts left out, unless their review is open).
    lifecycle: f.lifecycle === 'withdrawn' || f.lifecycle === 'all' ? f.lifecycle : undefined,
  }
}

/**
 * The API's lifecycle rule (src/store/alerts.ts), for live arrivals: the
 * current feed leaves withdrawn alerts out unless someone has acted on their
 * review and not closed it.
 */
function inLifecycle(a: AlertItem, lifecycle: string | undefined): boolean {
  if (lifecycle === 'all') return true
  if (lifecycle === 'withdrawn') return a.status === 'withdrawn'
  return a.status !== 'withdrawn' || (a.workflow.version > 0 && OPEN_STATUSES.includes(a.workflow.status))
}

/**
 * A later revision of an alert already held (on screen or waiting): its
 * content replaces the old, its workflow only if newer (a pushed revision
 * carries no review state). Returns the row it updated.
 */
function reviseHeld(held: readonly AlertItem[], a: AlertItem): AlertItem | undefined {
  const row = held.find((r) => r.alert_id === a.alert_id)
  if (!row || a.revision <= row.revision) return row
  const workflow = row.workflow.version >= a.workflow.version ? row.workflow : a.workflow
  Object.assign(row, a, { workflow })
  return row
}

/** Whether an alert belongs in the list under these filters (for live arrivals and after a transition). */
/** A feed page with degraded alerts (see the API's DegradedAlert) taken out and reported once. */
async function feedPage(path: string, q: Record<string, unknown>): Promise<{ alerts: AlertItem[]; next?: string }> {
  const res = await api.get<{ alerts: AlertOrDegraded[]; next?: string }>(path, q as Parameters<typeof api.get>[1])
  const { whole, degraded } = splitDegraded(res.alerts)
  warnDegraded(degraded)
  return { alerts: whole, next: res.next }
}

function matches(a: AlertItem, f: Filters): boolean {
  const status = f.status ?? 'open'
  if (status === 'open' && !OPEN_STATUSES.includes(a.workflow.status)) return false
  if (status !== 'open' && status !== 'all' && a.workflow.status !== status) return false
  if (f.fixmedins_code && !f.fixmedins_code.split(',').includes(a.subject.fixmedins_code)) return false
  if (f.admdvs && !a.admdvs.startsWith(f.admdvs)) return false
  if (f.detector && !f.detector.split(',').includes(a.detector.id)) return false
  if (f.severity && !(f.severity === 'high+' ? ['high', 'critical'] : [f.severity]).includes(a.severity)) return false
  if (f.stage && a.stage !== f.stage) return false
  if (f.result && a.result !== f.result) return false
  if (f.amount_min && compareYuan(a.amount_at_risk, f.amount_min) < 0) return false
  if (f.amount_max && compareYuan(a.amount_at_risk, f.amount_max) > 0) return false
  const at = Date.parse(a.detected_at)
  if (f.from && at < Date.parse(dayStart(f.from))) return false
  if (f.to && at >= Date.parse(dayAfter(f.to))) return false
  if (f.overdue === 'true' && !a.workflow.overdue) return false
  if (f.mine === 'true' && a.workflow.assignee !== getMe()?.id) return false
  if (!inLifecycle(a, f.lifecycle)) return false
  return true
}

export function feedView(root: HTMLElement, _params: string[], query: URLSearchParams): () => void {
  lastUrl = location.pathname + location.search
  const f = filtersFrom(query)
  const key = JSON.stringify(f)
  const restoring = saved?.key === key
  const st: FeedState = restoring ? saved! : { key, rows: [], next: undefined, cursor: null, picked: new Set(), acted: new Set(), scrollY: 0 }
  saved = st
  const sort = f.sort ?? 'newest'
  const me = getMe()!
  const canCase = me.role === 'inspector' || me.role === 'admin'
  let pending: AlertItem[] = []
  let loading = false
  let disposed = false

  // ---- filters ----
  const setFilter = (k: FilterKey, v: string | undefined): void => {
    const q = new URLSearchParams(location.search)
    if (v) q.set(k, v)
    else q.delete(k)
    const s = q.toString()
    go(`/${s ? `?${s}` : ''}`, true)
  }
  const sel = (k: FilterKey, options: [string, string][], value: string | undefined, anyLabel = t('feed.any')) =>
    h('select', { name: k, 'data-filter': k, onchange: (e: Event) => setFilter(k, (e.target as HTMLSelectElement).value || undefined) },
      anyLabel ? h('option', { value: '' }, anyLabel) : null,
      options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)))
  const text = (k: FilterKey, attrs: Record<string, string>) =>
    h('input', { name: k, 'data-filter': k, value: f[k] ?? '', ...attrs, onchange: (e: Event) => setFilter(k, (e.target as HTMLInputElement).value.trim() || undefined) })
  // A date as staff write it (yyyy-mm-dd) whatever the browser's own locale: Chromium
  // formats <input type=date> by its UI language (mm/dd/yyyy under an English
  // build), so the field is text, and the calendar is a picker behind a button.
  const dateText = (k: 'from' | 'to') => {
    const input = h('input', { name: k, 'data-filter': k, value: f[k] ?? '', placeholder: t('feed.dateHint'), maxlength: '10', size: '10', inputmode: 'numeric', autocomplete: 'off', class: 'date',
      onchange: () => {
        const v = isoDay(input.value)
        input.setCustomValidity(v === null ? t('feed.dateBad') : '')
        if (v === null) input.reportValidity()
        else setFilter(k, v || undefined)
      } })
    const picker = h('input', { type: 'date', class: 'date-picker', tabindex: '-1', 'aria-hidden': 'true', onchange: () => setFilter(k, picker.value || undefined) })
    const pickBtn = h('button', { type: 'button', class: 'date-open', tabindex: '-1', title: t('feed.pickDate'), onclick: () => { picker.value = isoDay(input.value) ?? ''; picker.showPicker() } }, '▾')
    return h('span', { class: 'date-field' }, input, picker, pickBtn)
  }
  const check = (k: FilterKey, labelText: string) =>
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: k, checked: f[k] === 'true', onchange: (e: Event) => setFilter(k, (e.target as HTMLInputElement).checked ? 'true' : undefined) }), labelText)

  const detectorSelect = sel('detector', (detectorsCache ?? []).map((d) => [d.id, pick(d.title)]), f.detector)
  const instList = h('datalist', { id: 'inst-list' }, (institutionsCache ?? []).map((i) => h('option', { value: i.fixmedins_code }, i.name ?? '')))
  const statusOptions: [string, string][] = [['open', t('status.open')], ...ALL_STATUSES.map((s): [string, string] => [s, statusLabel(s)]), ['all', t('feed.any')]]
  const lifecycleOptions = (['current', 'withdrawn', 'all'] as const).map((v): [string, string] => [v === 'current' ? '' : v, label('lifecycle', v)])
  const filters = h('form', { class: 'filters', onsubmit: (e: Event) => e.preventDefault() },
    h('label', null, t('feed.status'), sel('status', statusOptions, f.status ?? 'open', '')),
    h('label', null, t('feed.lifecycle'), sel('lifecycle', lifecycleOptions, f.lifecycle ?? '', '')),
    h('label', null, t('feed.institution'), text('fixmedins_code', { list: 'inst-list', placeholder: 'H…/P…', size: '14' })),
    instList,
    h('label', null, t('feed.region'), text('admdvs', { placeholder: t('feed.regionHint'), title: t('feed.regionHint'), size: '10', inputmode: 'numeric' })),
    h('label', null, t('feed.detector'), detectorSelect),
    h('label', null, t('feed.severity'), sel('severity', [['critical', label('sev', 'critical')], ['high+', `${label('sev', 'high')}+`], ['high', label('sev', 'high')], ['medium', label('sev', 'medium')], ['low', label('sev', 'low')]], f.severity)),
    h('label', null, t('feed.stage'), sel('stage', (['pre', 'in', 'post'] as const).map((s): [string, string] => [s, label('stage', s)]), f.stage)),
    h('label', null, t('feed.result'), sel('result', (['violation', 'suspicious'] as const).map((s): [string, string] => [s, label('result', s)]), f.result)),
    h('label', null, t('feed.amountMin'), text('amount_min', { type: 'number', min: '0', step: '0.01' })),
    h('label', null, t('feed.amountMax'), text('amount_max', { type: 'number', min: '0', step: '0.01' })),
    h('label', null, t('feed.from'), dateText('from')),
    h('label', null, t('feed.to'), dateText('to')),
    check('overdue', t('feed.overdue')),
    check('mine', t('feed.mine')),
    h('button', { type: 'button', onclick: () => go('/', true) }, t('feed.reset')))
  const sortSelect = h('label', { class: 'row' }, t('feed.sort'), sel('sort', [['newest', t('sort.newest')], ['amount', t('sort.amount')], ['severity', t('sort.severity')]], sort, ''))

  // Catalog and institution names fill the filter choices once, then stay cached.
  if (!detectorsCache) {
    void detectorCatalog().then((list) => {
      detectorsCache = list
      if (disposed) return
      for (const d of list) detectorSelect.append(h('option', { value: d.id, selected: d.id === f.detector }, pick(d.title)))
    }).catch(() => {})
  }
  if (!institutionsCache) {
    void api.get<{ institutions: InstitutionRisk[] }>('/institutions/ranking', { limit: 500 }).then((r) => {
      institutionsCache = r.institutions
      if (!disposed) instList.replaceChildren(...r.institutions.map((i) => h('option', { value: i.fixmedins_code }, i.name ?? '')))
    }).catch(() => {})
  }

  // ---- table ----
  const tbody = h('tbody')
  const th = (k: Parameters<typeof t>[0], cls = '', sortKey?: string) =>
    h('th', { class: `${cls}${sortKey ? ' sortable' : ''}${sortKey === sort ? ' sorted' : ''}`, onclick: sortKey ? () => setFilter('sort', sortKey === 'newest' ? undefined : sortKey) : null, title: sortKey ? t('feed.sort') : null },
      t(k), sortKey === sort ? ' ↓' : '')
  const table = h('table', { class: 'grid feed', id: 'feed' },
    h('thead', null, h('tr', null,
      h('th', { class: 'pick' }, ''),
      th('col.severity', '', 'severity'), th('col.detected', '', 'newest'), th('col.title'), th('col.institution'), th('col.person'),
      th('col.result'), th('col.stage'), th('col.step'), th('col.due'), th('col.assignee'), th('col.amount', 'num', 'amount'))),
    tbody)
  const newBar = h('button', { type: 'button', class: 'newbar hidden', onclick: () => showPending() })
  const countEl = h('span', { class: 'muted' })
  const pickedEl = h('span', { class: 'muted' })
  const caseBtn = canCase ? h('button', { type: 'button', class: 'primary', id: 'create-case', disabled: true, onclick: () => void makeCase() }, t('feed.createCase')) : null
  const foot = h('div', { class: 'foot' })
  const bar = h('div', { class: 'feed-bar' }, countEl, pickedEl, caseBtn, h('span', { class: 'grow' }), h('span', { class: 'keys' }, t('feed.keys')), sortSelect)

  mount(root, h('section', { class: 'panel' }, filters, bar, newBar, table, foot))

  function rowFor(a: AlertItem): HTMLTableRowElement {
    const wf = a.workflow
    const due = dueIn(wf.due_at)
    const closed = wf.status === 'decided' || wf.status === 'dismissed'
    const tr = h('tr', {
      'data-id': a.alert_id,
      class: [st.cursor === a.alert_id && 'cursor', st.picked.has(a.alert_id) && 'picked', st.acted.has(a.alert_id) && 'done', a.status === 'withdrawn' && 'withdrawn'].filter(Boolean).join(' '),
      onclick: (e: Event) => {
        if ((e.target as HTMLElement).closest('a, input')) return
        setCursor(a.alert_id)
      },
      ondblclick: () => open(a.alert_id),
    },
    h('td', { class: 'pick' }, h('input', { type: 'checkbox', checked: st.picked.has(a.alert_id), 'aria-label': 'select', onchange: () => togglePick(a.alert_id) })),
    h('td', null, h('span', { class: `sev ${a.severity}` }, label('sev', a.severity))),
    h('td', { class: 'muted' }, whenShort(a.detected_at)),
    // One line per alert: the message runs on after the title and is cut at the cell's edge (full text on hover).
    h('td', { class: 'title', title: `${pick(a.title)}${colon()}${pick(a.message)}` },
      lifecycleTag(a), h('a', { href: `/alerts/${a.alert_id}` }, pick(a.title)), h('span', { class: 'msg' }, pick(a.message))),
    h('td', { class: 'inst', title: a.subject.fixmedins_code }, a.institution_name ?? a.subject.fixmedins_code),
    h('td', { class: 'mono' }, a.subject.psn_no ?? ''),
    h('td', null, h('span', { class: `tag ${a.result}` }, label('result', a.result))),
    h('td', null, label('stage', a.stage)),
    h('td', null, h('span', { class: `tag ${closed ? wf.status : 'step'}` }, statusLabel(wf.status))),
    h('td', { class: wf.overdue ? 'due-late' : due.soon ? 'due-soon' : 'muted' }, wf.overdue ? h('span', { class: 'tag overdue' }, t('overdue')) : null, ' ', closed ? '' : due.text),
    h('td', null, wf.assignee_name ?? h('span', { class: 'faint' }, '—')),
    h('td', { class: 'num amount' }, atRisk(a)))
    return tr
  }

  function renderRows(): void {
    tbody.replaceChildren(...st.rows.map(rowFor))
    updateCounts()
  }

  function updateCounts(): void {
    countEl.textContent = `${counted(st.rows.length, 'alert')} · ${t('feed.amount')} ${money(sumYuan(st.rows.map((r) => r.amount_at_risk)))}`
    pickedEl.textContent = st.picked.size ? `${t('feed.selected')} ${st.picked.size}` : ''
    if (caseBtn) caseBtn.disabled = st.picked.size === 0
    if (loading) foot.textContent = t('loading')
    else if (!st.rows.length) foot.textContent = t('feed.empty')
    else if (st.next) mount(foot, h('button', { type: 'button', id: 'more', onclick: () => void loadMore() }, t('feed.more')))
    else foot.textContent = t('feed.end')
  }

  function replaceRow(id: string): void {
    const a = st.rows.find((r) => r.alert_id === id)
    const old = tbody.querySelector(`tr[data-id="${id}"]`)
    if (a && old) old.replaceWith(rowFor(a))
  }

  function setCursor(id: string | null, scroll = true): void {
    const prev = st.cursor
    st.cursor = id
    if (prev) tbody.querySelector(`tr[data-id="${prev}"]`)?.classList.remove('cursor')
    if (!id) return
    const tr = tbody.querySelector<HTMLElement>(`tr[data-id="${id}"]`)
    tr?.classList.add('cursor')
    if (scroll && tr) {
      const r = tr.getBoundingClientRect()
      // Keep the row clear of the sticky top bar and table header.
      if (r.top < 80) window.scrollBy(0, r.top - 80)
      else if (r.bottom > window.innerHeight - 10) window.scrollBy(0, r.bottom - window.innerHeight + 10)
    }
  }

  function togglePick(id: string): void {
    if (st.picked.has(id)) st.picked.delete(id)
    else st.picked.add(id)
    tbody.querySelector(`tr[data-id="${id}"]`)?.classList.toggle('picked', st.picked.has(id))
    const box = tbody.querySelector<HTMLInputElement>(`tr[data-id="${id}"] input[type=checkbox]`)
    if (box) box.checked = st.picked.has(id)
    updateCounts()
  }

  const open = (id: string): void => {
    st.scrollY = window.scrollY
    st.cursor = id
    go(`/alerts/${id}`)
  }

  function index(): number {
    return st.rows.findIndex((r) => r.alert_id === st.cursor)
  }

  function move(delta: number): void {
    if (!st.rows.length) return
    const i = index()
    const j = i < 0 ? 0 : Math.min(st.rows.length - 1, Math.max(0, i + delta))
    setCursor(st.rows[j]!.alert_id)
    if (j >= st.rows.length - 3 && st.next) void loadMore()
  }

  async function load(): Promise<void> {
    loading = true
    updateCounts()
    try {
      const res = await feedPage('/alerts', { ...apiQuery(f), limit: 100 })
      if (disposed) return
      st.rows = dedupe(res.alerts)
      st.next = res.next
      if (!st.cursor || !st.rows.some((r) => r.alert_id === st.cursor)) st.cursor = st.rows[0]?.alert_id ?? null
      // The fresh page already holds what was waiting: the bar counts only what it does not show.
      const shown = new Set(st.rows.map((r) => r.alert_id))
      pending = pending.filter((p) => !shown.has(p.alert_id))
    } catch (e) {
      fail(e)
    } finally {
      loading = false
    }
    if (!disposed) {
      renderRows()
      showNewBar()
      flushIfAtTop()
    }
  }

  /** Coming back to a kept list: fetch the first page again and fold in what changed while away. */
  async function refresh(): Promise<void> {
    try {
      const res = await feedPage('/alerts', { ...apiQuery(f), limit: 100 })
      if (disposed) return
      const have = new Map(st.rows.map((r) => [r.alert_id, r]))
      const fresh: AlertItem[] = []
      for (const a of res.alerts) {
        const mine = have.get(a.alert_id)
        // The page is the server's current word on both the revision and the review.
        if (mine) Object.assign(mine, a)
        else fresh.push(a)
      }
      // Moved on by someone else while this list was kept: no longer in this queue.
      const before = st.rows.length
      st.rows = st.rows.filter((r) => matches(r, f))
      if (st.rows.length !== before && !st.rows.some((r) => r.alert_id === st.cursor)) st.cursor = st.rows[0]?.alert_id ?? null
      st.rows = dedupe(st.rows)
      renderRows()
      // What arrived while away is new to this reader: the same rule as a live arrival.
      arrive(fresh.filter((a) => matches(a, f)))
    } catch (e) {
      fail(e)
    }
  }

  async function loadMore(): Promise<void> {
    if (loading || !st.next) return
    loading = true
    updateCounts()
    try {
      const res = await feedPage('/alerts', { ...apiQuery(f), limit: 100, cursor: st.next })
      if (disposed) return
      const have = new Set(st.rows.map((r) => r.alert_id))
      const more = res.alerts.filter((a) => !have.has(a.alert_id))
      st.rows.push(...more)
      st.next = res.next
      tbody.append(...more.map(rowFor))
    } catch (e) {
      fail(e)
    } finally {
      loading = false
      if (!disposed) {
        updateCounts()
        flushIfAtTop()
      }
    }
  }

  function dedupe(list: AlertItem[]): AlertItem[] {
    const seen = new Set<string>()
    return list.filter((a) => !seen.has(a.alert_id) && seen.add(a.alert_id))
  }

  // ---- live ----
  // One rule for arrivals: a newest-first list whose reader is at its top takes
  // them at once (they slide in above, nothing under the eye moves); anywhere
  // else (scrolled down, another order, a page still loading) they wait behind
  // the bar, whose number is exactly the alerts it would add. Scrolling back to
  // the top of a newest-first list, or `n`, lets them in.
  const atTop = (): boolean => window.scrollY <= 4
  const liveInsert = (): boolean => sort === 'newest' && !loading && atTop()

  function arrive(list: AlertItem[]): void {
    const have = new Set([...st.rows, ...pending].map((r) => r.alert_id))
    const add = dedupe(list).filter((a) => !have.has(a.alert_id))
    if (!add.length) return
    if (liveInsert()) {
      flushIfAtTop()
      insertTop(add)
    } else {
      pending.push(...add)
      showNewBar()
    }
  }

  function showNewBar(): void {
    newBar.classList.toggle('hidden', pending.length === 0)
    newBar.textContent = `${counted(pending.length, 'newAlert')} · n`
  }

  function flushIfAtTop(): void {
    if (pending.length && liveInsert()) showPending()
  }

  function showPending(): void {
    if (!pending.length) return
    if (sort === 'newest') {
      const list = pending
      pending = []
      showNewBar()
      window.scrollTo(0, 0)
      insertTop(list)
    } else {
      pending = []
      showNewBar()
      void load()
    }
  }

  function insertTop(list: AlertItem[]): void {
    const have = new Set(st.rows.map((r) => r.alert_id))
    const add = list.filter((a) => !have.has(a.alert_id)).sort((x, y) => (x.detected_at < y.detected_at ? 1 : -1))
    if (!add.length) return
    st.rows.unshift(...add)
    const trs = add.map((a) => {
      const tr = rowFor(a)
      tr.classList.add('fresh')
      return tr
    })
    tbody.prepend(...trs)
    if (!st.cursor) setCursor(st.rows[0]!.alert_id, false)
    updateCounts()
  }

  const offLive = onLive((e) => {
    if (e.type === 'workflow') {
      // A waiting alert someone moved out of this queue is no longer one the bar may count.
      const waiting = pending.find((p) => p.alert_id === e.alert_id)
      if (waiting && waiting.workflow.version <= e.workflow.version) {
        waiting.workflow = e.workflow
        pending = pending.filter((p) => matches(p, f))
        showNewBar()
      }
      const row = st.rows.find((r) => r.alert_id === e.alert_id)
      if (!row || row.workflow.version > e.workflow.version) return
      row.workflow = e.workflow
      replaceRow(e.alert_id)
      return
    }
    const a = e.alert
    // A later revision of an alert on screen (updated, or withdrawn: greyed
    // with its badge) changes the row in place and does not move or remove it
    // from under the reader; it leaves a list it no longer belongs in at the
    // next load. One still waiting behind the bar is counted only if it still belongs.
    if (reviseHeld(st.rows, a)) return replaceRow(a.alert_id)
    if (reviseHeld(pending, a)) {
      pending = pending.filter((p) => matches(p, f))
      return showNewBar()
    }
    // A replayed alert comes again with the same id: never a second row.
    if (!matches(a, f)) return
    arrive([a])
  })
  const onScroll = (): void => flushIfAtTop()
  window.addEventListener('scroll', onScroll, { passive: true })

  // ---- actions ----
  async function act(kind: 'confirm' | 'dismiss' | 'escalate'): Promise<void> {
    const a = st.rows.find((r) => r.alert_id === st.cursor)
    if (!a) return
    let m: Move | null | undefined
    if (kind === 'confirm') m = confirmMove(a.workflow.status)
    else if (kind === 'dismiss') m = movesFrom(a.workflow.status).find((x) => x.to === 'dismissed')
    else {
      m = await chooseForward(a.workflow.status)
      if (!m && forwardMoves(a.workflow.status).length > 1) return
    }
    if (!m) return toast(`${t('act.refused')}${colon()}${statusLabel(a.workflow.status)}`, 'err')
    try {
      const wf = await performMove(a.alert_id, a.workflow, m, a)
      if (!wf) return
      a.workflow = wf
      st.acted.add(a.alert_id)
      announce({ type: 'workflow', alert_id: a.alert_id, workflow: wf })
      toast(`${pick(a.title)} → ${statusLabel(wf.status)}`)
      const i = index()
      const next = st.rows[i + 1]?.alert_id ?? st.rows[i - 1]?.alert_id ?? null
      if (!matches(a, f)) {
        // Handled and out of this queue: it goes, and the cursor moves on to the next one.
        st.rows = st.rows.filter((r) => r.alert_id !== a.alert_id)
        tbody.querySelector(`tr[data-id="${a.alert_id}"]`)?.remove()
        st.picked.delete(a.alert_id)
        setCursor(next)
        updateCounts()
      } else {
        replaceRow(a.alert_id)
        setCursor(next)
      }
    } catch (e) {
      fail(e)
    }
  }

  async function makeCase(): Promise<void> {
    const chosen = st.rows.filter((r) => st.picked.has(r.alert_id))
    const created = await createCaseDialog(chosen)
    if (!created) return
    st.picked.clear()
    go(`/cases/${created}`)
  }

  const onKey = (e: KeyboardEvent): void => {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return
    switch (e.key) {
      case 'j': case 'ArrowDown': move(1); break
      case 'k': case 'ArrowUp': move(-1); break
      case 'Enter': if (st.cursor) open(st.cursor); break
      case 'x': if (st.cursor) togglePick(st.cursor); break
      case 'c': void act('confirm'); break
      case 'd': void act('dismiss'); break
      case 'e': void act('escalate'); break
      case 'n': showPending(); break
      case '/': filters.querySelector<HTMLElement>('select, input')?.focus(); break
      default: return
    }
    e.preventDefault()
  }
  document.addEventListener('keydown', onKey)

  const io = new IntersectionObserver((entries) => {
    if (entries.some((x) => x.isIntersecting) && st.next && !loading) void loadMore()
  }, { rootMargin: '200px' })
  io.observe(foot)

  if (restoring) {
    // What was handled on the alert page has left this queue: drop it, and put the cursor on the alert that followed.
    const at = index()
    const kept = st.rows.filter((r) => matches(r, f))
    if (st.cursor && !kept.some((r) => r.alert_id === st.cursor)) {
      const after = st.rows.slice(at + 1).find((r) => kept.includes(r))
      st.cursor = after?.alert_id ?? kept.at(-1)?.alert_id ?? null
    }
    st.rows = kept
    renderRows()
    window.scrollTo(0, st.scrollY)
    setCursor(st.cursor, false)
    void refresh()
  } else void load()

  return () => {
    disposed = true
    st.scrollY = window.scrollY
    offLive()
    window.removeEventListener('scroll', onScroll)
    io.disconnect()
    document.removeEventListener('keydown', onKey)
  }
}
