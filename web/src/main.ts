import './style.css'
import { ApiError, api, whenUnauthorized } from './api.ts'
import { h, mount, typing } from './dom.ts'
import { getLang, label, setLang, t } from './i18n.ts'
import { onLiveState, startLive, stopLive } from './live.ts'
import { getMe, logout, purpose, setMe, setPurpose, setToken, takeTokenFromUrl, token } from './session.ts'
import type { MeInfo } from './types.ts'
import { dialog, errorText } from './ui.ts'
import { alertView } from './views/alert.ts'
import { caseView, casesView } from './views/cases.ts'
import { deadLettersView } from './views/dead-letters.ts'
import { detectorsView } from './views/detectors.ts'
import { feedView } from './views/feed.ts'
import { riskView } from './views/risk.ts'
import { loadWorkflow } from './workflow.ts'
import { go, setRenderer } from './nav.ts'

export type View = (root: HTMLElement, params: string[], query: URLSearchParams) => (() => void) | void

const routes: { re: RegExp; nav: string; view: View }[] = [
  { re: /^\/$/, nav: '/', view: feedView },
  { re: /^\/alerts\/([0-9a-f]{32})$/, nav: '/', view: alertView },
  { re: /^\/cases$/, nav: '/cases', view: casesView },
  { re: /^\/cases\/([\w-]{1,64})$/, nav: '/cases', view: caseView },
  { re: /^\/detectors$/, nav: '/detectors', view: detectorsView },
  { re: /^\/institutions$/, nav: '/institutions', view: riskView },
  { re: /^\/dead-letters(?:\/([0-9a-f]{32}))?$/, nav: '/dead-letters', view: deadLettersView },
]

const app = document.getElementById('app')!
let cleanup: (() => void) | void = undefined

function render(): void {
  if (cleanup) cleanup()
  cleanup = undefined
  if (!token() || !getMe()) return void loginScreen()
  const path = location.pathname
  const route = routes.find((r) => r.re.test(path)) ?? routes[0]!
  const params = route.re.exec(path)?.slice(1) ?? []
  const main = h('main', { id: 'main' })
  mount(app, topBar(route.nav), purposeBar(), main)
  if (getMe()!.role === 'precheck') return void mount(main, h('p', { class: 'panel body' }, t('precheck.only')))
  cleanup = route.view(main, params, new URLSearchParams(location.search))
}

function topBar(active: string): HTMLElement {
  const me = getMe()!
  const canCases = me.role === 'inspector' || me.role === 'admin'
  const link = (path: string, key: Parameters<typeof t>[0]) => h('a', { href: path, class: active === path ? 'on' : null, 'data-nav': path }, t(key))
  const liveEl = h('span', { class: 'live', title: '' }, t('live.on'))
  const off = onLiveState((on) => {
    liveEl.classList.toggle('on', on)
    liveEl.textContent = on ? t('live.on') : t('live.off')
  })
  // The bar is rebuilt on every render; drop the old state listener with it.
  const prev = cleanupBar
  cleanupBar = off
  prev?.()
  return h('header', { class: 'top' },
    h('span', { class: 'brand' }, 'fundwatch', h('small', null, t('app.name'))),
    h('nav', { class: 'nav' }, link('/', 'nav.feed'), canCases && link('/cases', 'nav.cases'), link('/detectors', 'nav.detectors'), link('/institutions', 'nav.risk'), me.role === 'admin' && link('/dead-letters', 'nav.dlq')),
    h('div', { class: 'who' },
      liveEl,
      h('span', null, me.name),
      h('span', { class: 'role' }, label('role', me.role)),
      h('button', { type: 'button', id: 'lang', onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); render() } }, t('lang.toggle')),
      h('button', { type: 'button', onclick: () => { stopLive(); logout(); render() } }, t('nav.logout'))))
}
let cleanupBar: (() => void) | undefined

/**
 * Personal data stays masked until an inspector states why they need it. The
 * bar turns red while it is shown, so nobody forgets it is on.
 */
function purposeBar(): HTMLElement | null {
  const me = getMe()!
  if (me.role !== 'inspector') return null
  const p = purpose()
  if (p) {
    return h('div', { class: 'purpose-bar active' },
      h('span', null, t('purpose.active'), h('b', { id: 'purpose-text' }, p)),
      h('button', { type: 'button', onclick: () => { setPurpose(null); render() } }, t('purpose.clear')))
  }
  const input = h('input', { id: 'purpose', placeholder: t('purpose.placeholder'), maxlength: 200 })
  const submit = (e: Event): void => {
    e.preventDefault()
    const v = input.value.trim()
    if (v.length < 2) return input.focus()
    setPurpose(v)
    render()
  }
  return h('form', { class: 'purpose-bar', onsubmit: submit },
    h('span', { class: 'muted' }, t('masked.note')),
    h('label', { class: 'row' }, t('purpose.label'), input),
    h('button', { type: 'submit' }, t('purpose.set')))
}

function loginScreen(): void {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', placeholder: '43 位令牌 · 43-character token' })
  const err = h('div', { class: 'error', role: 'alert' })
  const form = h('form', { class: 'panel login' },
    h('h2', null, `fundwatch · ${t('app.name')}`, h('button', { type: 'button', style: 'margin-left:auto', onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); render() } }, t('lang.toggle'))),
    h('div', { class: 'body' },
      h('label', { for: 'token' }, t('login.token')),
      input,
      h('div', { class: 'muted' }, t('login.hint')),
      err,
      h('button', { type: 'submit', class: 'primary' }, t('login.submit'))))
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const v = input.value.trim()
    if (!v) return
    setToken(v)
    void signIn().catch((e2: unknown) => {
      logout()
      err.textContent = e2 instanceof ApiError && e2.status === 401 ? t('login.bad') : errorText(e2)
    })
  })
  mount(app, form)
  input.focus()
}

async function signIn(): Promise<void> {
  const me = await api.get<MeInfo>('/me')
  setMe(me)
  if (me.role !== 'precheck') {
    await loadWorkflow()
    startLive()
  }
  render()
}

// Links inside the console navigate without a reload.
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
  const a = (e.target as HTMLElement).closest('a')
  const href = a?.getAttribute('href')
  if (!a || !href || !href.startsWith('/') || a.hasAttribute('download') || a.target) return
  e.preventDefault()
  go(href)
})
window.addEventListener('popstate', () => render())
whenUnauthorized(() => {
  stopLive()
  render()
})

document.addEventListener('keydown', (e) => {
  if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return
  if (e.key === '?') void helpDialog()
})

function helpDialog(): Promise<unknown> {
  const rows: [string, string][] = getLang() === 'zh'
    ? [['j / k', '下一条 / 上一条'], ['Enter', '打开预警'], ['x', '选中 / 取消选中'], ['c', '确认（进入下一环节）'], ['d', '驳回（填写理由）'], ['e', '选择下一环节'], ['n', '显示新到预警'], ['/', '跳到筛选'], ['Esc', '返回列表 / 关闭对话框'], ['?', '本帮助']]
    : [['j / k', 'Next / previous'], ['Enter', 'Open alert'], ['x', 'Select / unselect'], ['c', 'Confirm (next step)'], ['d', 'Dismiss (with reason)'], ['e', 'Choose next step'], ['n', 'Show newly arrived alerts'], ['/', 'Jump to filters'], ['Esc', 'Back to list / close dialog'], ['?', 'This help']]
  return dialog(t('help.title'), [h('div', { class: 'help-grid' }, rows.flatMap(([k, v]) => [h('kbd', null, k), h('span', null, v)]))], t('close'), { info: true })
}

async function boot(): Promise<void> {
  setLang(getLang())
  takeTokenFromUrl()
  if (!token()) return render()
  try {
    await signIn()
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) console.error(e)
    logout()
    render()
  }
}

setRenderer(render)
void boot()
