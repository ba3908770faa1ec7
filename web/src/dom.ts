// A few lines of DOM building instead of a framework: the console is a handful
// of tables and forms, and staff keep it open all day, so it should load fast
// and never surprise anyone with a re-render that loses their place.

type Child = Node | string | number | null | undefined | false | Child[]
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener | Record<string, string>>

/** Builds an element. `on*` attributes become listeners, `dataset` an object, false/null attributes are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
      else if (k === 'dataset' && typeof v === 'object') Object.assign(el.dataset, v)
      else if (k === 'value' && 'value' in el) (el as HTMLInputElement).value = String(v)
      else if (k === 'checked' && 'checked' in el) (el as HTMLInputElement).checked = Boolean(v)
      else el.setAttribute(k, v === true ? '' : String(v))
    }
  }
  append(el, children)
  return el
}

function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
  }
}

/** Replaces an element's children. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren()
  append(el, children)
}

export function $(sel: string, root: ParentNode = document): HTMLElement | null {
  return root.querySelector<HTMLElement>(sel)
}

/** True when a key press belongs to a text field or an open dialog, so single-letter shortcuts leave it alone. */
export function typing(e: KeyboardEvent): boolean {
  if (document.querySelector('.scrim')) return true
  const t = e.target as HTMLElement | null
  if (!t) return false
  return t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)
}
