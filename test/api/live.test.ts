import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Users } from '../../src/auth/users.ts'
import { INST_A, eventsFor, fixture, people, type Fixture } from './fixture.ts'

/**
 * The live feed's hold on a token (issue 8): a revoked token's open stream
 * used to keep receiving alerts, and one token could hold any number of
 * streams.
 */
let fx: Fixture
let address: string
const PER_TOKEN = 3

beforeAll(async () => {
  fx = await fixture({ streamsPerToken: PER_TOKEN })
  address = await fx.server.listen({ port: 0, host: '127.0.0.1' })
})
afterAll(async () => fx?.close())

/** An open stream: what it has received so far, and whether the server ended it. */
async function open(token: string) {
  const ac = new AbortController()
  const res = await fetch(`${address}/api/v1/alerts/stream?access_token=${token}`, { signal: ac.signal })
  const s = { status: res.status, text: '', ended: false, close: () => ac.abort(), read: Promise.resolve() }
  if (res.status !== 200) {
    s.text = await res.text()
    s.ended = true
    return s
  }
  const reader = res.body!.getReader()
  s.read = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
      if (done) break
      s.text += new TextDecoder().decode(value)
    }
    s.ended = true
  })()
  // Connected once the server has said so.
  while (!s.text.includes(': connected') && !s.ended) await new Promise((r) => setTimeout(r, 10))
  return s
}

const alertsIn = (text: string) => [...text.matchAll(/event: alert\n/g)].length

async function newMonitor(name: string): Promise<{ id: string; token: string }> {
  const r = await fx.call('admin', 'POST', '/api/v1/users', { name, role: 'monitor' })
  const { user, token } = r.json() as { user: { id: string }; token: string }
  return { id: user.id, token }
}

describe('live feed and revoked tokens', () => {
  it('issue 8: revoking a user through the API ends their open streams at once; other users keep theirs', async () => {
    const gone = await newMonitor('将被撤销')
    const stays = await newMonitor('留下')
    const a = await open(gone.token)
    const b = await open(stays.token)
    expect([a.status, b.status]).toEqual([200, 200])
    expect((await fx.call('admin', 'POST', `/api/v1/users/${gone.id}/revoke`)).statusCode).toBe(200)
    await a.read
    expect(a.ended).toBe(true)
    fx.clock.ms += 60_000
    await fx.ingest(people(2, INST_A, 400).flatMap((p) => eventsFor(p, 3, 'rv')))
    while (alertsIn(b.text) === 0) await new Promise((r) => setTimeout(r, 10))
    expect(alertsIn(a.text)).toBe(0)
    expect(b.ended).toBe(false)
    b.close()
  })

  it('issue 8: a user revoked elsewhere (the CLI, another replica) loses their streams at the next check', async () => {
    const gone = await newMonitor('命令行撤销')
    const a = await open(gone.token)
    expect(a.status).toBe(200)
    await new Users(fx.app.store).revoke(gone.id)
    // Until the server's view of the users is refreshed, the stream stays; once it is, the check ends it.
    fx.clock.ms += 10_000
    expect(await fx.live.revalidate()).toBe(1)
    await a.read
    expect(a.ended).toBe(true)
    expect((await fx.server.inject({ method: 'GET', url: `/api/v1/alerts/stream?access_token=${gone.token}` })).statusCode).toBe(401)
  })
})

describe('streams per token', () => {
  it(`issue 8: one token holds at most ${PER_TOKEN} open streams; closing one frees its place`, async () => {
    const u = await newMonitor('多窗口')
    const streams = []
    for (let i = 0; i < PER_TOKEN; i++) streams.push(await open(u.token))
    expect(streams.map((s) => s.status)).toEqual(Array(PER_TOKEN).fill(200))
    const extra = await open(u.token)
    expect([extra.status, JSON.parse(extra.text)]).toEqual([429, { error: 'RATE_LIMITED', message: `at most ${PER_TOKEN} open streams per token; close one first` }])
    // Another token is not affected.
    const other = await open(fx.tokens.monitorA)
    expect(other.status).toBe(200)
    const open_ = fx.live.clients()
    other.close()
    streams[0]!.close()
    while (fx.live.clients() > open_ - 2) await new Promise((r) => setTimeout(r, 10))
    const again = await open(u.token)
    expect(again.status).toBe(200)
    for (const s of [...streams, again]) s.close()
  })
})
