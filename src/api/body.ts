import type { FastifyInstance } from 'fastify'
import { FundwatchError } from '../errors.ts'
import { jsonNestsDeeperThan } from '../util/json-depth.ts'

/** Request bodies: at most this many bytes… */
export const BODY_LIMIT = 64 * 1024
/** …and arrays/objects nested at most this deep (a pre-check draft needs about 6). */
export const BODY_MAX_DEPTH = 32

/**
 * A JSON request body, or a 400 that says what is wrong with it. The depth
 * is checked on the text first: a deeply nested body would otherwise reach
 * recursive code (validation, serialisation) and overflow the stack. Keys
 * that would reach an object's prototype when the value is merged elsewhere
 * (`__proto__`, `constructor.prototype`) are refused by name.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new FundwatchError('BAD_REQUEST', 'the body is empty; send JSON')
  if (jsonNestsDeeperThan(text, BODY_MAX_DEPTH)) throw new FundwatchError('BAD_REQUEST', `the body nests arrays and objects deeper than ${BODY_MAX_DEPTH} levels`)
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (key === '__proto__') throw new ForbiddenKey('__proto__')
      if (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype')) throw new ForbiddenKey('constructor.prototype')
      return value
    })
  } catch (err) {
    if (err instanceof ForbiddenKey) throw new FundwatchError('BAD_REQUEST', `the body may not use the key "${err.key}" (anywhere)`)
    throw new FundwatchError('BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`)
  }
}

class ForbiddenKey extends Error {
  constructor(readonly key: string) {
    super(key)
  }
}

/** Replaces fastify's JSON body parser with parseJsonBody (same content types, same size limit). */
export function jsonBodies(f: FastifyInstance): void {
  f.removeContentTypeParser('application/json')
  f.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string))
    } catch (err) {
      done(err as Error, undefined)
    }
  })
}
