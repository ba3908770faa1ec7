import { logout, purpose, token } from './session.ts'

/** Adds the stated purpose to the routes that take one (evidence views and exports); it is written to the access log. */
export function withPurpose(q: Query = {}): Query {
  const p = purpose()
  return p ? { ...q, purpose: p } : q
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

export type Query = Record<string, string | number | boolean | undefined | null | string[]>

export function qs(q: Query = {}): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '' || v === false) continue
    if (Array.isArray(v)) for (const x of v) p.append(k, x)
    else p.set(k, String(v))
  }
  const s = p.toString()
  return s ? `?${s}` : ''
}

let onUnauthorized: () => void = () => {}
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn
}

/**
 * The bearer token. The purpose travels as `?purpose=` rather than the
 * X-Purpose header: header values must be ISO-8859-1 and a purpose is
 * usually written in Chinese.
 */
export function authHeaders(): Record<string, string> {
  const tok = token()
  return tok ? { authorization: `Bearer ${tok}` } : {}
}

async function call<T>(method: string, path: string, body?: unknown, q?: Query): Promise<T> {
  const headers = authHeaders()
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(`/api/v1${path}${qs(q)}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch {
    throw new ApiError(0, 'NETWORK', 'network')
  }
  if (res.status === 401) {
    logout()
    onUnauthorized()
  }
  if (!res.ok) {
    let code = 'HTTP_' + res.status
    let message = res.statusText
    try {
      const j = (await res.json()) as { error?: string; message?: string }
      code = j.error ?? code
      message = j.message ?? message
    } catch { /* not JSON: keep the status text */ }
    throw new ApiError(res.status, code, message)
  }
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

export const api = {
  get: <T>(path: string, q?: Query) => call<T>('GET', path, undefined, q),
  del: <T>(path: string) => call<T>('DELETE', path),
  post: <T>(path: string, body: unknown = {}) => call<T>('POST', path, body),
  patch: <T>(path: string, body: unknown = {}) => call<T>('PATCH', path, body),
  put: <T>(path: string, body: unknown = {}) => call<T>('PUT', path, body),
  /** Fetches a file with the caller's headers (a plain link could not carry the token). */
  async download(path: string, q?: Query): Promise<{ blob: Blob; filename: string }> {
    let res: Response
    try {
      res = await fetch(`/api/v1${path}${qs(q)}`, { headers: authHeaders() })
    } catch {
      throw new ApiError(0, 'NETWORK', 'network')
    }
    if (!res.ok) {
      let message = res.statusText
      let code = 'HTTP_' + res.status
      try {
        const j = (await res.json()) as { error?: string; message?: string }
        code = j.error ?? code
        message = j.message ?? message
      } catch { /* keep the status text */ }
      throw new ApiError(res.status, code, message)
    }
    const cd = res.headers.get('content-disposition') ?? ''
    const star = /filename\*=UTF-8''([^;]+)/i.exec(cd)
    const plain = /filename="?([^";]+)"?/i.exec(cd)
    const filename = star ? decodeURIComponent(star[1]!) : (plain?.[1] ?? 'evidence.zip')
    return { blob: await res.blob(), filename }
  },
}

/**
 * Server-Sent Events over fetch rather than EventSource: EventSource cannot
 * send an Authorization header, and a token in the stream's URL would end up in
 * proxy logs. Reconnects with backoff and resumes from the last event id.
 */
export function subscribe(path: string, onEvent: (type: string, data: unknown) => void, onState: (live: boolean) => void): () => void {
  const ac = new AbortController()
  let lastId: string | null = null
  let delay = 1000
  const run = async (): Promise<void> => {
    while (!ac.signal.aborted) {
      try {
        const headers: Record<string, string> = { ...authHeaders(), accept: 'text/event-stream' }
        if (lastId) headers['last-event-id'] = lastId
        const res = await fetch(`/api/v1${path}`, { headers, signal: ac.signal })
        if (res.status === 401) {
          logout()
          onUnauthorized()
          return
        }
        if (!res.ok || !res.body) throw new Error(`stream ${res.status}`)
        onState(true)
        delay = 1000
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
        let buf = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buf += value
          let cut: number
          while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
            const block = buf.slice(0, cut)
            buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '')
            let type = 'message'
            const data: string[] = []
            for (const line of block.split(/\r?\n/)) {
              if (line.startsWith(':')) continue
              const i = line.indexOf(':')
              const field = i < 0 ? line : line.slice(0, i)
              const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '')
              if (field === 'event') type = val
              else if (field === 'data') data.push(val)
              else if (field === 'id') lastId = val
            }
            if (!data.length) continue
            let parsed: unknown = data.join('\n')
            try {
              parsed = JSON.parse(parsed as string)
            } catch { /* plain text event */ }
            onEvent(type, parsed)
          }
        }
      } catch {
        if (ac.signal.aborted) return
      }
      onState(false)
      await new Promise((r) => window.setTimeout(r, delay))
      delay = Math.min(delay * 2, 15_000)
    }
  }
  void run()
  return () => ac.abort()
}
