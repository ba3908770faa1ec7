// Client-side navigation, kept apart from main.ts so screens can navigate
// without importing the shell that imports them.
let renderFn: () => void = () => {}

export function setRenderer(fn: () => void): void {
  renderFn = fn
}

/** Navigates within the console: the server answers every console path with index.html. */
export function go(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  renderFn()
}

/** Re-renders the current screen (after a language switch or a newly stated purpose). */
export function rerender(): void {
  renderFn()
}
