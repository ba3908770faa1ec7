import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Principal } from '../../src/auth/principal.ts'
import { reviewConfig } from '../../src/review/config.ts'
import { ReviewService } from '../../src/review/service.ts'
import { startChdbHttp } from '../../src/store/chdb-http.ts'
import { migrate } from '../../src/store/migrations.ts'
import { Store } from '../../src/store/store.ts'
import { removeDir } from '../helpers/app.ts'

/**
 * Read-after-write for the review workflow behind ClickHouse replicas: on a
 * cluster its writes carry insert_quorum and its reads
 * select_sequential_consistency. Here one node (chDB behind its HTTP endpoint,
 * the real client and protocol) stands in for the cluster: the settings are
 * seen on the wire, and a transition read back at once returns the new state.
 */
const dir = mkdtempSync(join(tmpdir(), 'fw-consistency-'))
let srv: Awaited<ReturnType<typeof startChdbHttp>>
/** Each request's URL settings, with its SQL (in `query=` or the body) as `sql`. */
const seen: URLSearchParams[] = []
const database = `cs_${process.pid}`

beforeAll(async () => {
  srv = await startChdbHttp({ dataDir: join(dir, 'chdb') })
  srv.server.on('request', (req) => {
    const p = new URL(req.url ?? '/', 'http://x').searchParams
    const body: Buffer[] = []
    req.on('data', (c: Buffer) => body.push(c))
    req.on('end', () => { p.set('sql', `${p.get('query') ?? ''}\n${Buffer.concat(body).toString('utf8')}`.trim()) })
    seen.push(p)
  })
  const plain = await Store.open({ url: srv.url, database })
  await migrate(plain)
  await plain.close()
})
afterAll(async () => {
  await srv?.close()
  removeDir(dir)
})

const by: Principal = { id: 'u_insp', name: '稽核员', role: 'inspector', admdvs: [], fixmedins_codes: [] }
const meta = (id: string) => ({ alert_id: id, detector_id: 'duplicate-charge', fixmedins_code: 'H1', admdvs: '370702', amount_at_risk: '12.00', detected_at: Date.now() })
const sqlOf = (p: URLSearchParams) => p.get('sql') ?? ''

describe('review workflow read-after-write', () => {
  it('on a cluster: the workflow writes with insert_quorum, reads with select_sequential_consistency, and a transition reads back at once', async () => {
    const store = await Store.open({ url: srv.url, database, cluster: 'fundwatch' })
    try {
      const review = new ReviewService(store, reviewConfig({}))
      seen.length = 0
      const { workflow } = await review.transition(by, meta('A-CS-1'), { to: 'first_review', version: 0 })
      expect(workflow).toMatchObject({ status: 'first_review', version: 1 })
      const now = (await review.states(['A-CS-1'])).get('A-CS-1')
      expect(now).toMatchObject({ status: 'first_review', version: 1, updated_by: 'u_insp' })

      const inserts = seen.filter((p) => /^INSERT INTO \S+\.alert_actions/.test(sqlOf(p)))
      expect(inserts).toHaveLength(1)
      expect(inserts[0]!.get('insert_quorum')).toBe('auto')
      expect(inserts[0]!.get('insert_quorum_parallel')).toBe('0')
      const reads = seen.filter((p) => /^SELECT[\s\S]*FROM \S+\.(alert_actions|alert_status)\b/.test(sqlOf(p)))
      expect(reads.length).toBeGreaterThanOrEqual(3) // before, the conflict check, the state read back
      for (const r of reads) expect(r.get('select_sequential_consistency'), sqlOf(r)).toBe('1')
      // Every query on a cluster: Distributed inserts finish on their shards before returning.
      for (const p of seen.filter((x) => sqlOf(x))) expect(p.get('insert_distributed_sync'), sqlOf(p)).toBe('1')
    } finally {
      await store.close()
    }
  })

  it('on one node the same workflow sends none of the cluster settings, and reads back at once as well', async () => {
    const store = await Store.open({ url: srv.url, database })
    try {
      const review = new ReviewService(store, reviewConfig({}))
      seen.length = 0
      await review.transition(by, meta('A-CS-2'), { to: 'first_review', version: 0 })
      await review.transition(by, meta('A-CS-2'), { to: 'dismissed', version: 1, reason: '重复上传, 已撤销' })
      expect((await review.states(['A-CS-2'])).get('A-CS-2')).toMatchObject({ status: 'dismissed', version: 2 })
      for (const p of seen) for (const k of ['insert_quorum', 'insert_quorum_parallel', 'select_sequential_consistency', 'insert_distributed_sync']) expect(p.has(k), k).toBe(false)
    } finally {
      await store.close()
    }
  })
})
