import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A ClickHouse HTTP endpoint over the embedded chDB engine, for running several
 * fundwatch processes (processors in one consumer group, an API replica) on
 * one machine without a ClickHouse server: chDB binds one data directory per
 * process, so one process owns it and the others reach it with CLICKHOUSE_URL,
 * through the same @clickhouse/client code path a real server gets.
 *
 * It is the real engine behind the real protocol's common subset (POST with the
 * SQL in the body or `query=`, `param_*` bindings, `default_format`, GET /ping,
 * errors as `Code: N. DB::Exception: …` with status 500). Not for production:
 * no auth, no sessions, no compression. Production uses a ClickHouse server.
 */
export async function startChdbHttp(opts: { dataDir: string; port?: number; host?: string }): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const { Session } = await import('chdb')
  const session = new Session(opts.dataDir)
  // ClickHouse accepts URIs up to 1 MiB (http_max_uri_size); query parameters travel in the URI.
  const server = createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://localhost')
        if (url.pathname === '/ping') return res.end('Ok.\n')
        const body = Buffer.concat(chunks).toString('utf8')
        const q = url.searchParams.get('query')
        const sql = q ? (body.length ? `${q}\n${body}` : q) : body
        const params: Record<string, string> = {}
        for (const [k, v] of url.searchParams) if (k.startsWith('param_')) params[k.slice(6)] = v
        const format = url.searchParams.get('default_format') ?? 'TabSeparated'
        try {
          if (!sql.trim()) throw Object.assign(new Error('Empty query'), { clickhouseCode: 62 })
          // An INSERT with no rows is a no-op for a server; chDB would refuse it.
          if (q && /^\s*INSERT\b/i.test(q) && body.trim() === '') return res.end()
          const r = Object.keys(params).length ? await session.queryBindAsync(sql, params, { format }) : await session.queryAsync(sql, { format })
          res.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-summary': JSON.stringify({ read_rows: String(r.rowsRead), read_bytes: String(r.bytesRead), elapsed_ns: String(Math.round(r.elapsed * 1e9)) }) })
          res.end(Buffer.from(r.bytes()))
        } catch (err) {
          const code = (err as { clickhouseCode?: number }).clickhouseCode ?? 1000
          const msg = (err as Error).message.replace(/^Code: \d+\. /, '')
          res.writeHead(500, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-exception-code': String(code) })
          res.end(`Code: ${code}. ${msg.startsWith('DB::Exception') ? msg : `DB::Exception: ${msg}`}\n`)
        }
      })()
    })
  })
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      session.close()
    },
  }
}
