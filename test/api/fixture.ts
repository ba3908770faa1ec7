import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { AnyEvent } from '../../schemas/index.ts'
import { buildServer, createLiveFeed, type LiveFeed } from '../../src/api/server.ts'
import type { Role } from '../../src/auth/principal.ts'
import { Users } from '../../src/auth/users.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { HOSPITAL, feeUploaded, institution, item, makeKb, settlementCompleted, visitOpened } from '../helpers/detect.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

/** Two regions: Weifang (370702) and Beijing Chaoyang (110105). */
export const INST_A = 'H37070200001'
export const INST_A2 = 'H37070200002'
export const INST_B = HOSPITAL // H11010500001, admdvs 110105

export const kb = makeKb({
  institutions: [
    institution(INST_A, { level: 2, admdvs: '370702', name: '潍坊市第一医院' }),
    institution(INST_A2, { level: 2, admdvs: '370702', name: '潍坊市第二医院' }),
    institution(INST_B, { level: 2, admdvs: '110105', name: '朝阳区中心医院' }),
  ],
  catalog: [
    item('SVC-OBST', { name: '产前检查', gend: '2' }),
    item('SVC-CT', { name: 'CT平扫', min_hosp_lv: 3 }),
    item('DRUG-A', { name: '阿莫西林胶囊', list_type: 'drug', med_chrgitm_type: '09' }),
    item('DRUG-PED', { name: '小儿氨酚黄那敏颗粒', list_type: 'drug', med_chrgitm_type: '11', age_max: 14 }),
  ],
})

/** A valid 18-digit 身份证号 (ISO 7064 MOD 11-2) for a generated person — never a real one. */
export function certno(region: string, brdy: string, seq: number): string {
  const body = `${region}${brdy.replaceAll('-', '')}${String(seq % 1000).padStart(3, '0')}`
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  let sum = 0
  for (let i = 0; i < 17; i++) sum += (body.charCodeAt(i) - 48) * w[i]!
  return body + '10X98765432'[sum % 11]
}

const SURNAMES = ['张', '王', '李', '赵', '刘', '陈', '杨', '黄', '周', '吴']
const GIVEN = ['伟', '芳', '娜', '秀英', '敏', '静', '丽', '强', '磊', '军']

export interface Person { psn_no: string; certno: string; psn_name: string; brdy: string; inst: string }

export function people(n: number, inst: string, offset = 0): Person[] {
  return Array.from({ length: n }, (_, i) => {
    const k = i + offset
    const brdy = `${1950 + (k * 7) % 50}-${String(1 + (k % 12)).padStart(2, '0')}-${String(1 + (k % 27)).padStart(2, '0')}`
    const region = inst === INST_B ? '110105' : '370702'
    return { psn_no: `PSN${String(90000000 + k).padStart(8, '0')}`, certno: certno(region, brdy, k), psn_name: `${SURNAMES[k % 10]}${GIVEN[(k * 3) % 10]}${k % 3 === 0 ? '华' : ''}`, brdy, inst }
  })
}

const at = (day: number, h: number, m = 0) => `2026-03-${String(day).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+08:00`

/**
 * One male outpatient visit per person with a duplicated drug line (duplicate-charge),
 * an obstetric item (restricted-item, gender) and a CT at a level-2 hospital
 * (restricted-item, level), then its settlement. Personal data rides on visit.opened.
 */
export function eventsFor(p: Person, day: number, tag: string): AnyEvent[] {
  const mdtrt = `MDT${tag}${p.psn_no.slice(-4)}`
  const open = visitOpened({ event_id: `ev-open-${tag}-${p.psn_no}`, mdtrt_id: mdtrt, psn_no: p.psn_no, begntime: at(day, 9), med_type: '11', gend: '1', brdy: p.brdy, fixmedins_code: p.inst, diagnoses: [{ diag_code: 'J18.900', diag_name: '肺炎' }] })
  const withPsn = AnyEvent.parse({ ...open, payload: { ...open.payload, psn: { ...open.payload.psn, certno: p.certno, psn_name: p.psn_name } } })
  return [
    withPsn,
    feeUploaded({
      event_id: `ev-fee-${tag}-${p.psn_no}`, mdtrt_id: mdtrt, psn_no: p.psn_no, fixmedins_code: p.inst,
      lines: [
        { feedetl_sn: `${mdtrt}-1`, fee_ocur_time: at(day, 10), med_list_codg: 'DRUG-A', list_type: 'drug', med_chrgitm_type: '09', cnt: '2', pric: '35.50' },
        { feedetl_sn: `${mdtrt}-2`, fee_ocur_time: at(day, 10), med_list_codg: 'DRUG-A', list_type: 'drug', med_chrgitm_type: '09', cnt: '2', pric: '35.50' },
        { feedetl_sn: `${mdtrt}-3`, fee_ocur_time: at(day, 11), med_list_codg: 'SVC-OBST', pric: '120.00' },
        { feedetl_sn: `${mdtrt}-4`, fee_ocur_time: at(day, 11), med_list_codg: 'SVC-CT', pric: '260.00' },
      ],
    }),
    settlementCompleted({ event_id: `ev-setl-${tag}-${p.psn_no}`, mdtrt_id: mdtrt, psn_no: p.psn_no, setl_id: `SETL${tag}${p.psn_no.slice(-4)}`, setl_time: at(day, 12), med_type: '11', fixmedins_code: p.inst, fund_pay_sumamt: '400.00' }),
  ]
}

/** A clock tests can move; the pipeline and the API both read it. */
export class Clock {
  constructor(public ms: number) {}
  readonly now = () => this.ms
  set(iso: string): void { this.ms = Date.parse(iso) }
  advanceDays(d: number): void { this.ms += d * 86_400_000 }
}

export interface Fixture {
  app: TestApp
  server: FastifyInstance
  live: LiveFeed
  clock: Clock
  tokens: Record<TokenName, string>
  ids: Record<TokenName, string>
  call(who: TokenName | null, method: InjectOptions['method'], url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>
  ingest(events: AnyEvent[]): Promise<number>
  close(): Promise<void>
}

export type TokenName = 'admin' | 'adminA' | 'monitor' | 'monitorA' | 'monitorB' | 'inspector' | 'inspectorA' | 'precheck'
const USERS: Record<TokenName, { role: Role; admdvs?: string[]; fixmedins_codes?: string[]; name: string }> = {
  admin: { role: 'admin', name: '系统管理员' },
  adminA: { role: 'admin', admdvs: ['3707'], name: '潍坊管理员' },
  monitor: { role: 'monitor', name: '监控员甲' },
  monitorA: { role: 'monitor', admdvs: ['3707'], name: '潍坊监控员' },
  monitorB: { role: 'monitor', admdvs: ['1101'], name: '北京监控员' },
  inspector: { role: 'inspector', name: '稽核员甲' },
  inspectorA: { role: 'inspector', admdvs: ['370702'], name: '潍坊稽核员' },
  precheck: { role: 'precheck', fixmedins_codes: [INST_A], name: 'HIS-潍坊一院' },
}

export async function fixture(opts: { start?: string; review?: Record<string, unknown>; rules?: unknown; webDir?: string; streamsPerToken?: number } = {}): Promise<Fixture> {
  const app = await testApp({ kb, rules: opts.rules })
  // Monday 2026-03-02 14:00 China time.
  const clock = new Clock(Date.parse(opts.start ?? '2026-03-02T14:00:00+08:00'))
  const live = createLiveFeed(app, { streamsPerToken: opts.streamsPerToken })
  const server = await buildServer(app, { live, now: clock.now, review: opts.review ?? {}, webDir: opts.webDir ?? false, rateLimitPerMinute: 100_000 })
  const users = new Users(app.store)
  const tokens = {} as Record<TokenName, string>
  const ids = {} as Record<TokenName, string>
  for (const [name, u] of Object.entries(USERS) as [TokenName, (typeof USERS)[TokenName]][]) {
    const { user, token } = await users.create({ name: u.name, role: u.role, admdvs: u.admdvs ?? [], fixmedins_codes: u.fixmedins_codes ?? [] }, 'cli')
    tokens[name] = token
    ids[name] = user.id
  }
  return {
    app, server, live, clock, tokens, ids,
    call: (who, method, url, body, headers = {}) => server.inject({
      method, url, ...(body === undefined ? {} : { payload: body as InjectOptions['payload'] }),
      headers: { ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}), ...headers },
    }),
    async ingest(events) {
      const s = await app.pipeline({ now: clock.now, alertSinks: [live.sink] }).run(generatorSource(events, { batchSize: 50 }), new AbortController().signal)
      return s.alerts
    },
    async close() {
      await server.close()
      await app.close()
    },
  }
}
