import type { MeInfo as Me } from './types.ts'

// The token lives in sessionStorage: it survives a reload but not the tab, and
// is never written to localStorage, cookies or the address bar.

const TOKEN = 'fw.token'
const PURPOSE = 'fw.purpose'


let me: Me | null = null

/**
 * The login URL `npm start` prints on first run carries the token, in the
 * fragment (`#token=`, never sent to a server) or the query (`?token=`). Take it
 * once, then strip it from the address bar and the history entry so it is not
 * bookmarked, shared, or sent as a referrer.
 */
export function takeTokenFromUrl(): void {
  const url = new URL(location.href)
  const hash = new URLSearchParams(url.hash.replace(/^#/, ''))
  const token = url.searchParams.get('token') ?? hash.get('token')
  if (!token) return
  sessionStorage.setItem(TOKEN, token)
  url.searchParams.delete('token')
  const search = url.searchParams.toString()
  history.replaceState(null, '', url.pathname + (search ? `?${search}` : '') + (hash.has('token') ? '' : url.hash))
}

export const token = (): string | null => sessionStorage.getItem(TOKEN)
export const setToken = (t: string): void => sessionStorage.setItem(TOKEN, t)

export function logout(): void {
  sessionStorage.removeItem(TOKEN)
  sessionStorage.removeItem(PURPOSE)
  me = null
}

export const getMe = (): Me | null => me
export const setMe = (m: Me | null): void => {
  me = m
}

/** The stated purpose for viewing evidence: unmasks personal data for inspectors, and is required for every evidence export. */
export const purpose = (): string | null => sessionStorage.getItem(PURPOSE)
/** Only an inspector with a purpose sees personal data unmasked; the console says so and marks the screen. */
export const revealing = (): boolean => me?.role === 'inspector' && Boolean(purpose())
export function setPurpose(p: string | null): void {
  if (p) sessionStorage.setItem(PURPOSE, p)
  else sessionStorage.removeItem(PURPOSE)
}
