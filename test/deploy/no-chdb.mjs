// `node --import ./no-chdb.mjs …`: this process cannot find the chdb package,
// as in the server-mode image (deploy/Dockerfile prunes it).
import { register } from 'node:module'

const hook = `export async function resolve(specifier, context, next) {
  if (specifier === 'chdb' || specifier.startsWith('chdb/') || specifier.startsWith('@chdb/')) {
    throw Object.assign(new Error("Cannot find package '" + specifier + "' (pruned from this image)"), { code: 'ERR_MODULE_NOT_FOUND' })
  }
  return next(specifier, context)
}`
register(`data:text/javascript,${encodeURIComponent(hook)}`)
