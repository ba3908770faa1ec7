import { Users } from '../auth/users.ts'
import { FundwatchError } from '../errors.ts'
import { appFromFlags } from './common.ts'

/**
 * `fundwatch users`: create, list and revoke API users. A token is printed
 * once, at creation, and only its SHA-256 is stored; lost tokens are revoked
 * and replaced, never recovered.
 */
export async function usersCommand(values: { role?: string; name?: string; admdvs?: string; institution?: string; 'data-dir'?: string; kb?: string }, positionals: string[]): Promise<number> {
  const [sub, id] = positionals
  if (sub === 'create' && (!values.role || !values.name)) throw new FundwatchError('BAD_REQUEST', 'users create needs --role and --name')
  if (sub === 'revoke' && !id) throw new FundwatchError('BAD_REQUEST', 'users revoke needs the user_id')
  if (sub !== 'revoke' && id !== undefined) throw new FundwatchError('BAD_REQUEST', `unexpected argument "${id}"`)
  const list = (v: string | undefined) => (v ? v.split(',').map((x) => x.trim()).filter(Boolean) : [])
  const app = await appFromFlags({ 'data-dir': values['data-dir'], kb: values.kb }, { logLevel: process.env.LOG_LEVEL ?? 'warn' })
  try {
    const users = new Users(app.store)
    if (sub === 'create') {
      let created
      try {
        created = await users.create({ name: values.name!, role: values.role as never, admdvs: list(values.admdvs), fixmedins_codes: list(values.institution) }, 'cli')
      } catch (err) {
        const issues = (err as { issues?: { path: PropertyKey[]; message: string }[] }).issues
        if (issues) throw new FundwatchError('BAD_REQUEST', issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))
        throw err
      }
      const { user, token } = created
      const unknown = user.fixmedins_codes.filter((c) => !app.kb().institutions.has(c))
      if (unknown.length) console.error(`warning: not in the knowledge base: ${unknown.join(', ')}`)
      console.error(`created ${user.id}  ${user.role}  ${user.name}  scope: ${scopeText(user)}`)
      console.error('The token is shown once and cannot be recovered; store it now:')
      console.log(token)
      return 0
    }
    if (sub === 'list') {
      const all = await users.list()
      console.log(['id', 'role', 'name', 'scope', 'created', 'revoked'].join('\t'))
      for (const u of all) console.log([u.id, u.role, u.name, scopeText(u), u.created_at, u.revoked_at ?? ''].join('\t'))
      return 0
    }
    const u = await users.revoke(id!)
    if (!u) {
      throw new FundwatchError('NOT_FOUND', `no user ${id} (fundwatch users list shows them)`)
    }
    console.error(`revoked ${u.id} (${u.name}) at ${u.revoked_at}`)
    return 0
  } finally {
    await app.close()
  }
}

function scopeText(u: { admdvs: readonly string[]; fixmedins_codes: readonly string[] }): string {
  const parts = [...u.admdvs.map((a) => `admdvs:${a}`), ...u.fixmedins_codes]
  return parts.length ? parts.join(',') : 'all'
}
