import { ApiError, api } from '../api.ts'
import { h, mount } from '../dom.ts'
import { day, money, pct } from '../format.ts'
import { aside, colon, getLang, label, pick, t, type Key } from '../i18n.ts'
import { MODES, errorLine, readRule, ruleEntry, withRule, type Mode, type RuleEdit } from '../rule-text.ts'
import type { BacktestJob, BacktestResult, DetectorInfo, RulesInForce, RuleValidation } from '../types.ts'
import { errorText, toast } from '../ui.ts'

// One detector's rule, edited by an admin on the catalog page: a form built
// from the detector's own parameter schema (the JSON Schema the API serves from
// its zod schema, descriptions in zh and en), its judgement, stages, scope and
// mode. Every step works on the whole candidate rule-base text — the text in
// force with this detector's entry rewritten (web/src/rule-text.ts) — so what
// is validated, backtested and applied is exactly what the server records.
// The server decides: the console's checks only shape the input.

/** The slice of JSON Schema the detectors' zod schemas produce (z.toJSONSchema). */
interface Schema {
  type?: string | string[]
  enum?: unknown[]
  items?: Schema
  properties?: Record<string, Schema>
  default?: unknown
  description?: string
  description_zh?: string
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
}

interface Control { el: HTMLElement; read(): { value?: unknown; error?: string } }

const LIST_SPLIT = /[\s,，、;；]+/

function listOf(v: string): string[] {
  return v.split(LIST_SPLIT).map((s) => s.trim()).filter(Boolean)
}

/** The description in the console's language; the other language on hover. */
function describe(s: Schema): { text: string; other: string } {
  const zh = s.description_zh ?? s.description ?? ''
  const en = s.description ?? s.description_zh ?? ''
  return getLang() === 'zh' ? { text: zh, other: en } : { text: en, other: zh }
}

function show(v: unknown): string {
  // The diff says null for a field not set: the detector's own default applies.
  if (v === undefined || v === null) return '—'
  if (Array.isArray(v)) return v.length ? v.join(', ') : '[]'
  return typeof v === 'string' ? v : JSON.stringify(v)
}

/** A diff value: modes, severities and results by their names, the rest as written. */
function showSetting(path: string, v: unknown): string {
  if (typeof v === 'string' && (path === 'mode' || path === 'severity' || path === 'result')) return `${label(path === 'severity' ? 'sev' : path, v)} (${v})`
  return show(v)
}

/** A form control for one parameter, from its JSON Schema. Names are `param.<path>` (the browser test drives them). */
function control(path: string, s: Schema, value: unknown): Control {
  const name = `param.${path}`
  const type = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type
  if (type === 'boolean') {
    const el = h('input', { type: 'checkbox', name, checked: value === true })
    return { el: h('label', { class: 'row' }, el, t('rules.on')), read: () => ({ value: el.checked }) }
  }
  if (type === 'integer' || type === 'number') {
    const min = s.minimum ?? s.exclusiveMinimum
    const max = s.maximum ?? s.exclusiveMaximum
    const el = h('input', { type: 'number', name, step: type === 'integer' ? 1 : 'any', min: min ?? null, max: max ?? null, value: typeof value === 'number' ? value : '', style: 'width:120px' })
    const bounds = [min !== undefined ? `≥ ${min}` : '', max !== undefined ? `≤ ${max}` : ''].filter(Boolean).join(' ')
    return {
      el: h('span', { class: 'row' }, el, bounds ? h('span', { class: 'faint', style: 'font-size:11px' }, bounds) : null),
      read: () => {
        if (el.value.trim() === '') return {}
        const n = Number(el.value)
        return Number.isFinite(n) ? { value: n } : { error: `${path}${colon()}${t('rules.notNumber')}` }
      },
    }
  }
  if (type === 'string' && s.enum) {
    const el = h('select', { name }, s.enum.map((o) => h('option', { value: String(o) }, String(o))))
    el.value = String(value ?? s.default ?? s.enum[0])
    return { el, read: () => ({ value: el.value }) }
  }
  if (type === 'array' && s.items?.enum) {
    const chosen = new Set(Array.isArray(value) ? value.map(String) : [])
    const boxes = s.items.enum.map((o) => h('input', { type: 'checkbox', name, value: String(o), checked: chosen.has(String(o)) }))
    return {
      el: h('span', { class: 'checks' }, boxes.map((b) => h('label', { class: 'row' }, b, h('span', { class: 'mono' }, b.value)))),
      read: () => ({ value: boxes.filter((b) => b.checked).map((b) => b.value) }),
    }
  }
  if (type === 'array' && (s.items?.type === 'string' || s.items?.type === 'integer' || s.items?.type === 'number')) {
    const numeric = s.items.type !== 'string'
    const el = h('input', { name, value: Array.isArray(value) ? value.join(', ') : '', placeholder: t('rules.listHint'), style: 'width:100%' })
    return {
      el,
      read: () => {
        const list = listOf(el.value)
        if (!numeric) return { value: list }
        const nums = list.map(Number)
        return nums.every(Number.isFinite) ? { value: nums } : { error: `${path}${colon()}${t('rules.notNumber')}` }
      },
    }
  }
  if (type === 'object' && s.properties) {
    const obj = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>
    const parts = Object.entries(s.properties).map(([k, sub]) => ({ k, c: control(`${path}.${k}`, sub, obj[k]) }))
    return {
      el: h('span', { class: 'row', style: 'flex-wrap:wrap' }, parts.map(({ k, c }) => h('label', { class: 'row' }, h('span', { class: 'mono faint' }, k), c.el))),
      read: () => {
        const out: Record<string, unknown> = {}
        for (const { k, c } of parts) {
          const r = c.read()
          if (r.error) return r
          if (r.value !== undefined) out[k] = r.value
        }
        return { value: out }
      },
    }
  }
  if (type === 'string') {
    const el = h('input', { name, value: typeof value === 'string' ? value : '', style: 'width:100%' })
    return { el, read: () => ({ value: el.value }) }
  }
  // Anything else the schemas may grow: JSON, checked by the server like the rest.
  const el = h('textarea', { name, rows: 2, class: 'mono', style: 'width:100%' }, value === undefined ? '' : JSON.stringify(value))
  return {
    el,
    read: () => {
      if (!el.value.trim()) return {}
      try {
        return { value: JSON.parse(el.value) as unknown }
      } catch {
        return { error: `${path}${colon()}${t('rules.notJson')}` }
      }
    },
  }
}

/** "3707, 370102" ⇄ ['3707', '370102']. */
function listInput(name: string, value: readonly unknown[] | undefined, placeholder: string): { el: HTMLInputElement; read: () => string[] } {
  const el = h('input', { name, value: value?.join(', ') ?? '', placeholder, style: 'width:100%' })
  return { el, read: () => listOf(el.value) }
}

function checks<T extends string | number>(name: string, options: readonly T[], chosen: readonly T[] | undefined, text: (o: T) => string): { el: HTMLElement; read: () => T[] } {
  const boxes = options.map((o) => ({ o, b: h('input', { type: 'checkbox', name, value: String(o), checked: chosen ? chosen.includes(o) : false }) }))
  return {
    el: h('span', { class: 'checks' }, boxes.map(({ o, b }) => h('label', { class: 'row' }, b, text(o)))),
    read: () => boxes.filter(({ b }) => b.checked).map(({ o }) => o),
  }
}

const LEVELS = [0, 1, 2, 3] as const

/** YYYY-MM-DD of the day after: the window's end is exclusive, so the last day chosen is included. */
function nextDay(v: string): string {
  return new Date(Date.parse(`${v}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)
}


/** The candidate text with line numbers, the line the server refused marked. */
function numbered(text: string, bad?: number): HTMLElement {
  return h('pre', { class: 'yaml' }, text.split('\n').map((line, i) =>
    h('div', { class: i + 1 === bad ? 'bad' : null, id: i + 1 === bad ? 'rule-error-line' : null, 'data-line': i + 1 }, h('span', { class: 'ln' }, String(i + 1)), line || ' ')))
}

function shortHash(hash: string | undefined): string {
  return hash ? hash.slice(0, 12) : '—'
}

export interface EditorDeps {
  detector: DetectorInfo
  rules: RulesInForce
  /** The rule base changed (applied): reload the page's data. */
  onApplied(hash: string): void
  onClose(): void
}

/** The editor panel. Returns the element and a dispose function (stops a backtest poll). */
export function ruleEditor({ detector: d, rules, onApplied, onClose }: EditorDeps): { el: HTMLElement; dispose: () => void } {
  const inForce = readRule(rules.text, d.id)
  const entry = inForce.entry ?? {}
  const schema = d.params_schema as Schema
  const props = schema.properties ?? {}
  const defaults: Record<string, unknown> = Object.fromEntries(Object.entries(props).filter(([, p]) => p.default !== undefined).map(([k, p]) => [k, p.default]))
  const written = (entry.params ?? {}) as Record<string, unknown>
  const scope = (entry.scope ?? {}) as { admdvs?: string[]; levels?: number[]; types?: string[]; med_types?: string[] }

  // ---- the form ----
  const modeBoxes = MODES.map((m) => h('input', { type: 'radio', name: 'mode', value: m, checked: m === inForce.mode }))
  const severity = h('select', { name: 'severity' },
    h('option', { value: '' }, `${t('rules.default')}${aside(label('sev', d.severity))}`),
    ['low', 'medium', 'high', 'critical'].map((s) => h('option', { value: s }, label('sev', s))))
  severity.value = typeof entry.severity === 'string' ? entry.severity : ''
  const result = h('select', { name: 'result' },
    h('option', { value: '' }, `${t('rules.default')}${aside(label('result', d.result))}`),
    ['violation', 'suspicious'].map((s) => h('option', { value: s }, label('result', s))))
  result.value = typeof entry.result === 'string' ? entry.result : ''
  const stages = checks('stages', d.stages, Array.isArray(entry.stages) ? (entry.stages as string[]) : d.stages, (s) => label('stage', s))
  const admdvs = listInput('scope.admdvs', scope.admdvs, t('rules.admdvsHint'))
  const levels = checks('scope.levels', LEVELS, scope.levels, (l) => t(`rules.level${l}` as Key))
  const types = listInput('scope.types', scope.types, t('rules.typesHint'))
  const medTypes = listInput('scope.med_types', scope.med_types, t('rules.medTypesHint'))
  const params = Object.entries(props).map(([name, p]) => ({ name, p, c: control(name, p, name in written ? written[name] : p.default) }))

  const err = h('div', { class: 'error hidden', id: 'rule-form-error', role: 'alert' })

  /** The form as an edit, or the first problem the console can see on its own (the server checks the rest). */
  function collect(): RuleEdit | string {
    const values: Record<string, unknown> = {}
    for (const { name, c } of params) {
      const r = c.read()
      if (r.error) return r.error
      if (r.value !== undefined) values[name] = r.value
    }
    const mode = (modeBoxes.find((b) => b.checked)?.value ?? 'on') as Mode
    const st = stages.read()
    return {
      mode, params: values,
      severity: severity.value || undefined, result: result.value || undefined,
      stages: st.length === d.stages.length ? undefined : st,
      scope: { admdvs: admdvs.read(), levels: levels.read(), types: types.read(), med_types: medTypes.read() },
    }
  }

  /** The whole candidate rule base, or null (the problem shown). */
  function candidate(): string | null {
    const edit = collect()
    if (typeof edit === 'string') {
      err.textContent = edit
      err.classList.remove('hidden')
      return null
    }
    err.classList.add('hidden')
    const text = withRule(rules.text, d.id, ruleEntry(edit, defaults, inForce.entry))
    mount(preview, numbered(text))
    return text
  }

  const preview = h('div')
  const previewBox = h('details', { class: 'params', id: 'rule-text' }, h('summary', null, t('rules.preview')), preview)

  // ---- validate / diff ----
  const check = h('div', { id: 'rule-check' })
  const stale = new Set<HTMLElement>()
  const markFresh = (el: HTMLElement) => {
    el.classList.remove('stale')
    stale.add(el)
  }

  async function validate(): Promise<void> {
    const text = candidate()
    if (text === null) return
    mount(check, h('div', { class: 'muted' }, t('loading')))
    try {
      const v = await api.post<RuleValidation>('/rules/validate', { text })
      markFresh(check)
      const diff = v.diff.filter((x) => x.detector)
      mount(check,
        h('p', { class: 'ok-line', id: 'rule-valid' }, `✓ ${t('rules.valid')} · ${t('rules.candidate')} `, h('span', { class: 'mono' }, shortHash(v.hash))),
        diff.length
          ? h('table', { class: 'grid params', id: 'rule-diff' },
            h('thead', null, h('tr', null, h('th', null, t('rules.detector')), h('th', null, t('rules.path')), h('th', null, t('rules.from')), h('th', null, t('rules.to')))),
            h('tbody', null, diff.map((x) => h('tr', { 'data-path': `${x.detector}:${x.path}` },
              h('td', { class: 'mono' }, x.detector), h('td', { class: 'mono' }, x.path),
              h('td', { class: 'mono from' }, showSetting(x.path, x.from)), h('td', { class: 'mono to' }, showSetting(x.path, x.to))))))
          : h('p', { class: 'muted', id: 'rule-nodiff' }, t('rules.noDiff')))
    } catch (e) {
      markFresh(check)
      if (e instanceof ApiError && e.status === 400) {
        const line = errorLine(e.message)
        mount(check,
          h('p', { class: 'error', id: 'rule-invalid', 'data-line': line ?? '' }, `${t('rules.invalid')}${colon()}${e.message}`),
          numbered(text, line))
        previewBox.open = false
      } else mount(check, h('p', { class: 'error' }, errorText(e)))
    }
  }

  // ---- backtest ----
  const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10)
  const monthAgo = new Date(Date.now() + 8 * 3_600_000 - 30 * 86_400_000).toISOString().slice(0, 10)
  const btFrom = h('input', { type: 'date', name: 'bt-from', value: monthAgo })
  const btTo = h('input', { type: 'date', name: 'bt-to', value: today })
  // A generated dataset's labels.jsonl (fundwatch generate): precision and recall against it.
  const btLabels = h('input', { type: 'file', name: 'bt-labels', accept: '.jsonl,.json,application/x-ndjson' })
  const btRun = h('button', { type: 'button', id: 'bt-run' }, t('rules.btRun'))
  const btCancel = h('button', { type: 'button', id: 'bt-cancel', class: 'danger hidden' }, t('rules.btCancel'))
  const btOut = h('div', { id: 'bt-out' })
  let poll = 0
  let job: string | null = null
  const stopPoll = () => {
    window.clearTimeout(poll)
    poll = 0
  }

  async function backtest(): Promise<void> {
    const text = candidate()
    if (text === null) return
    if (!btFrom.value || !btTo.value || btFrom.value > btTo.value) return void mount(btOut, h('p', { class: 'error' }, t('rules.btWindowBad')))
    stopPoll()
    try {
      const labels = btLabels.files?.[0] ? await btLabels.files[0].text() : undefined
      const { job_id } = await api.post<{ job_id: string }>('/rules/backtest', { text, from: `${btFrom.value}T00:00:00+08:00`, to: `${nextDay(btTo.value)}T00:00:00+08:00`, labels })
      job = job_id
      elsewhere = 0
      btRun.disabled = true
      btCancel.classList.remove('hidden')
      markFresh(btOut)
      await follow(job_id)
    } catch (e) {
      markFresh(btOut)
      mount(btOut, h('p', { class: 'error', id: 'bt-error' }, e instanceof ApiError && e.status === 400 ? `${t('rules.invalid')}${colon()}${e.message}` : errorText(e)))
    }
  }

  // A running job is known only to the API process that runs it; behind a
  // load balancer a poll may reach another replica, which answers 404 until
  // the job finishes and is recorded. Those answers are waited out (a minute
  // of them at most), not shown as the end of the backtest.
  let elsewhere = 0
  async function follow(id: string): Promise<void> {
    let j: BacktestJob
    try {
      j = await api.get<BacktestJob>(`/rules/backtest/${id}`)
      elsewhere = 0
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && job === id && ++elsewhere < 100) {
        poll = window.setTimeout(() => void follow(id), 600)
        return
      }
      btRun.disabled = false
      btCancel.classList.add('hidden')
      return void mount(btOut, h('p', { class: 'error' }, errorText(e)))
    }
    if (job !== id) return
    if (j.status === 'running') {
      const { events_done: done, events_total: total } = j.progress
      mount(btOut, h('div', { id: 'bt-progress', class: 'row' },
        h('div', { class: 'bar', style: 'width:240px' }, h('i', { style: `width:${total ? Math.round((done / total) * 100) : 0}%` })),
        h('span', { class: 'muted' }, `${t('rules.btRunning')} ${done.toLocaleString()} / ${total.toLocaleString()} ${t('rules.events')}`)))
      poll = window.setTimeout(() => void follow(id), 600)
      return
    }
    job = null
    btRun.disabled = false
    btCancel.classList.add('hidden')
    if (j.status === 'done' && j.result) mount(btOut, backtestResult(j.result))
    else if (j.status === 'cancelled') mount(btOut, h('p', { class: 'muted', id: 'bt-cancelled' }, t('rules.btCancelled')))
    else mount(btOut, h('p', { class: 'error', id: 'bt-error' }, `${t('rules.btFailed')}${colon()}${j.error ?? ''}`))
  }

  btRun.addEventListener('click', () => void backtest())
  btCancel.addEventListener('click', () => {
    if (!job) return
    void api.del(`/rules/backtest/${job}`).catch((e: unknown) => toast(errorText(e), 'err'))
  })

  // ---- apply ----
  const reason = h('textarea', { name: 'reason', rows: 2, maxlength: 500, placeholder: t('rules.reasonHint'), style: 'width:100%' })
  const apply = h('button', { type: 'button', class: 'primary', id: 'rule-apply', disabled: true }, t('rules.apply'))
  reason.addEventListener('input', () => {
    apply.disabled = !reason.value.trim()
  })
  const conflict = h('div', { id: 'rule-conflict', class: 'error hidden', role: 'alert' })
  apply.addEventListener('click', () => {
    const text = candidate()
    const why = reason.value.trim()
    if (text === null || !why) return
    apply.disabled = true
    // The candidate is the text this page loaded with one entry rewritten: applied over a
    // version someone recorded since, it would silently undo their change. The server takes
    // the whole text, so the console checks first and asks for a reload instead.
    void api.get<RulesInForce>('/rules').then((now) => {
      if (now.hash === rules.hash) return api.put<{ hash: string; promoted?: { detector: string; alerts: number }[] }>('/rules', { text, reason: why, expected_hash: rules.hash })
      const last = now.changes[0]
      mount(conflict, `${t('rules.conflict')}${colon()}${shortHash(now.hash)}${last ? ` · ${last.by} · ${last.reason}` : ''} `,
        h('button', { type: 'button', id: 'rule-reload', onclick: () => location.reload() }, t('rules.reload')))
      conflict.classList.remove('hidden')
      return null
    }).then((r) => {
      if (!r) return
      const promoted = (r.promoted ?? []).reduce((n, p) => n + p.alerts, 0)
      toast(`${t('rules.applied')} ${shortHash(r.hash)}${promoted ? ` · ${t('rules.promoted')} ${promoted}` : ''}`)
      onApplied(r.hash)
    }).catch((e: unknown) => {
      apply.disabled = false
      if (e instanceof ApiError && e.status === 400) {
        markFresh(check)
        mount(check, h('p', { class: 'error', id: 'rule-invalid' }, `${t('rules.invalid')}${colon()}${e.message}`), numbered(text, errorLine(e.message)))
      } else toast(errorText(e), 'err')
    })
  })

  const form = h('form', { class: 'rule-form', novalidate: true, onsubmit: (e: Event) => { e.preventDefault(); void validate() } },
    h('fieldset', null, h('legend', null, t('rules.mode')),
      h('div', { class: 'checks', id: 'rule-mode' }, modeBoxes.map((b) => h('label', { class: 'row', title: t(`rules.modeHint.${b.value as Mode}` as Key) }, b, label('mode', b.value), h('span', { class: 'faint', style: 'font-size:11px' }, t(`rules.modeHint.${b.value as Mode}` as Key)))))),
    h('fieldset', null, h('legend', null, t('rules.judgement')),
      h('div', { class: 'form-grid' },
        h('label', null, t('feed.severity'), severity),
        h('label', null, t('feed.result'), result),
        h('label', null, t('det.stages'), stages.el))),
    h('fieldset', null, h('legend', null, `${t('rules.scope')} `, h('span', { class: 'faint', style: 'font-weight:400' }, t('rules.scopeHint'))),
      h('div', { class: 'form-grid' },
        h('label', null, t('rules.admdvs'), admdvs.el),
        h('label', null, t('rules.levels'), levels.el),
        h('label', null, t('rules.types'), types.el),
        h('label', null, t('rules.medTypes'), medTypes.el))),
    h('fieldset', null, h('legend', null, t('det.params')),
      params.length
        ? h('table', { class: 'grid params', id: 'rule-params' },
          h('thead', null, h('tr', null, h('th', null, t('det.params')), h('th', null, t('det.value')), h('th', null, t('det.default')), h('th', null, t('det.desc')))),
          h('tbody', null, params.map(({ name, p, c }) => {
            const desc = describe(p)
            return h('tr', { 'data-param': name },
              h('td', { class: 'mono' }, name),
              h('td', { style: 'min-width:220px' }, c.el),
              h('td', { class: 'mono faint' }, show(p.default)),
              h('td', { class: 'muted desc', style: 'font-size:12px', title: desc.other }, desc.text))
          })))
        : h('div', { class: 'faint' }, t('rules.noParams'))),
    err,
    h('div', { class: 'row' }, h('button', { type: 'submit', id: 'rule-validate' }, t('rules.validate')), previewBox),
    check)

  // A result no longer matches the form once it changes: say so rather than leave it looking current.
  form.addEventListener('input', () => {
    for (const el of stale) el.classList.add('stale')
  })

  const el = h('section', { class: 'panel rule-editor', id: 'rule-editor', 'data-detector': d.id },
    h('h2', null,
      `${t('rules.edit')}${colon()}${pick(d.title)}`, h('span', { class: 'mono faint' }, ` ${d.id} v${d.version}`),
      h('span', { class: 'faint', style: 'font-weight:400;font-size:12px' }, ` · ${t('rules.inForce')} `, h('span', { class: 'mono', id: 'rule-hash' }, shortHash(rules.hash))),
      h('button', { type: 'button', style: 'margin-left:auto', id: 'rule-close', onclick: onClose }, t('close'))),
    h('div', { class: 'body' },
      form,
      h('fieldset', { id: 'rule-backtest' }, h('legend', null, t('rules.backtest')),
        h('div', { class: 'row', style: 'flex-wrap:wrap' }, h('label', { class: 'row' }, t('rules.btFrom'), btFrom), h('label', { class: 'row' }, t('feed.to'), btTo),
          h('label', { class: 'row', title: t('rules.btLabelsHint') }, t('rules.btLabels'), btLabels), btRun, btCancel,
          h('span', { class: 'faint', style: 'font-size:11px' }, t('rules.btHint'))),
        btOut),
      h('fieldset', { id: 'rule-apply-box' }, h('legend', null, t('rules.applyTitle')),
        h('label', null, t('rules.reason'), reason),
        h('div', { class: 'row' }, apply, h('span', { class: 'faint', style: 'font-size:11px' }, t('rules.applyHint'))),
        conflict)))
  return { el, dispose: () => { job = null; stopPoll() } }
}

// ---- the backtest result ----

type DetectorDelta = BacktestResult['detectors'][number]
type Brief = DetectorDelta['added']['sample'][number]

function changedAny(x: DetectorDelta): boolean {
  return x.added.count > 0 || x.removed.count > 0 || x.changed.count > 0 || x.baseline_mode !== x.candidate_mode
}

function prec(p: number | null, n: number): string {
  return `${pct(p)}${n ? ` (${n})` : ''}`
}

function briefRow(kind: 'added' | 'removed', a: Brief): HTMLElement {
  return h('tr', { 'data-kind': kind, 'data-alert': a.alert_id },
    h('td', null, h('span', { class: `tag ${kind === 'added' ? 'violation' : 'closed'}` }, t(`rules.bt.${kind}` as Key))),
    h('td', { class: 'mono' }, kind === 'removed' ? h('a', { href: `/alerts/${a.alert_id}`, title: t('rules.btOpenAlert') }, a.alert_id.slice(0, 12)) : a.alert_id.slice(0, 12)),
    h('td', { class: 'mono' }, a.fixmedins_code), h('td', { class: 'mono' }, a.psn_no), h('td', { class: 'mono' }, a.mdtrt_id),
    h('td', { class: 'num' }, money(a.amount_at_risk)),
    h('td', null, label('sev', a.severity)), h('td', null, label('result', a.result)),
    h('td', { class: 'muted', style: 'font-size:12px' }, pick({ zh: a.message_zh, en: a.message_en })))
}

export function backtestResult(r: BacktestResult): HTMLElement {
  const moved = r.detectors.filter(changedAny)
  const quiet = r.detectors.filter((x) => !changedAny(x))
  const labelled = r.labelled
  const row = (x: DetectorDelta) => h('tr', { 'data-detector': x.detector, class: changedAny(x) ? null : 'quiet' },
    h('td', { class: 'mono' }, x.detector),
    h('td', null, x.baseline_mode === x.candidate_mode ? label('mode', x.baseline_mode) : `${label('mode', x.baseline_mode)} → ${label('mode', x.candidate_mode)}`),
    h('td', { class: 'num baseline' }, `${x.baseline.alerts}`, h('div', { class: 'faint' }, money(x.baseline.amount_at_risk))),
    h('td', { class: 'num candidate' }, `${x.candidate.alerts}`, h('div', { class: 'faint' }, money(x.candidate.amount_at_risk))),
    h('td', { class: 'num added' }, x.added.count ? `+${x.added.count}` : '0', h('div', { class: 'faint' }, money(x.added.amount_at_risk))),
    h('td', { class: 'num removed' }, x.removed.count ? `−${x.removed.count}` : '0', h('div', { class: 'faint' }, money(x.removed.amount_at_risk))),
    h('td', { class: 'num changed' }, String(x.changed.count)),
    h('td', { class: 'num precision' }, `${prec(x.precision.baseline, x.precision.reviewed_baseline)} → ${prec(x.precision.candidate, x.precision.reviewed_candidate)}`),
    labelled ? h('td', { class: 'num labels' }, x.labels ? `${pct(x.labels.baseline.precision)} / ${pct(x.labels.baseline.recall)} → ${pct(x.labels.candidate.precision)} / ${pct(x.labels.candidate.recall)}` : '—') : null)
  const samples = moved.filter((x) => x.added.sample.length || x.removed.sample.length || x.changed.sample.length).map((x) =>
    h('details', { class: 'params bt-samples', 'data-detector': x.detector, open: moved.length === 1 },
      h('summary', null, `${x.detector}${colon()}${t('rules.bt.samples')} — ${t('rules.bt.added')} ${x.added.sample.length}/${x.added.count} · ${t('rules.bt.removed')} ${x.removed.sample.length}/${x.removed.count} · ${t('rules.bt.changed')} ${x.changed.sample.length}/${x.changed.count}`),
      h('table', { class: 'grid params' },
        h('thead', null, h('tr', null, ['', 'rules.bt.alert', 'feed.institution', 'col.person', 'rules.bt.visit', 'feed.amount', 'feed.severity', 'feed.result', 'det.desc'].map((k) => h('th', null, k ? t(k as Key) : '')))),
        h('tbody', null,
          x.removed.sample.map((a) => briefRow('removed', a)),
          x.added.sample.map((a) => briefRow('added', a)),
          x.changed.sample.map((c) => h('tr', { 'data-kind': 'changed', 'data-alert': c.alert_id },
            h('td', null, h('span', { class: 'tag step' }, t('rules.bt.changed'))),
            h('td', { class: 'mono' }, h('a', { href: `/alerts/${c.alert_id}` }, c.alert_id.slice(0, 12))),
            h('td', { colspan: 3 }),
            h('td', { class: 'num' }, c.before.amount_at_risk === c.after.amount_at_risk ? money(c.after.amount_at_risk) : `${money(c.before.amount_at_risk)} → ${money(c.after.amount_at_risk)}`),
            h('td', null, c.before.severity === c.after.severity ? label('sev', c.after.severity) : `${label('sev', c.before.severity)} → ${label('sev', c.after.severity)}`),
            h('td', null, c.before.result === c.after.result ? label('result', c.after.result) : `${label('result', c.before.result)} → ${label('result', c.after.result)}`),
            h('td', null)))))))
  return h('div', { id: 'bt-result', 'data-candidate': r.candidate_hash },
    h('p', { class: 'muted', id: 'bt-summary' },
      `${t('rules.bt.window')}${colon()}${day(r.window.from)} – ${day(new Date(Date.parse(r.window.to) - 1).toISOString())} · ${r.events.toLocaleString()} ${t('rules.events')} · ${r.fee_lines.toLocaleString()} ${t('rules.feeLines')} · ${(r.elapsed_ms / 1000).toFixed(1)} s · `,
      h('span', { class: 'mono' }, `${shortHash(r.baseline_hash)} → ${shortHash(r.candidate_hash)}`),
      r.warmup_events ? h('span', { title: t('rules.bt.warmupHint') }, ` · ${t('rules.bt.warmup')} ${r.warmup_events.toLocaleString()} ${t('rules.events')}`) : null),
    // Stored events that no longer decode were not replayed: the comparison is short of them, and says so.
    r.skipped ? h('p', { class: 'error', id: 'bt-skipped' }, `${t('rules.bt.skipped')}${colon()}${r.skipped.toLocaleString()}`) : null,
    h('table', { class: 'grid params', id: 'bt-detectors' },
      h('thead', null, h('tr', null,
        ['rules.detector', 'rules.mode', 'rules.bt.baseline', 'rules.bt.candidate', 'rules.bt.added', 'rules.bt.removed', 'rules.bt.changed', 'rules.bt.precision'].map((k, i) => h('th', { class: i >= 2 ? 'num' : null }, t(k as Key))),
        labelled ? h('th', { class: 'num' }, t('rules.bt.labels')) : null)),
      h('tbody', null, moved.map(row), quiet.length ? h('tr', { class: 'quiet-note' }, h('td', { colspan: labelled ? 9 : 8, class: 'faint' }, `${t('rules.bt.quiet')}${colon()}${quiet.length}`)) : null)),
    samples.length ? samples : h('p', { class: 'muted', id: 'bt-nochange' }, t('rules.bt.noChange')))
}
