import type { App } from '../app.ts'
import { Users } from './users.ts'

/**
 * First start of the embedded default: when nobody exists yet, create an admin
 * and return its token so `npm start` can print a login URL once (the way
 * notebook servers do). Never logged; later starts return undefined.
 */
export async function bootstrapAdmin(app: App): Promise<string | undefined> {
  const users = new Users(app.store)
  if ((await users.count()) > 0) return undefined
  const { user, token } = await users.create({ name: 'admin', role: 'admin' }, 'cli')
  app.log.info({ user_id: user.id }, 'first start: created the admin user (its login URL is printed on the console, once)')
  return token
}
