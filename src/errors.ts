/** Every error code fundwatch raises, with the HTTP status where one applies. */
export const ERROR_CODES = {
  CONFIG_INVALID: 500,
  RULEBASE_INVALID: 400,
  KB_INVALID: 400,
  STORE_QUERY_FAILED: 503,
  STORE_INSERT_FAILED: 503,
  SINK_FAILED: 503,
  SOURCE_FAILED: 503,
  DETECTOR_FAILED: 500,
  DETECTOR_UNKNOWN: 404,
  DETECTOR_DUPLICATE: 500,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  BAD_REQUEST: 400,
  CONFLICT: 409,
  TRANSITION_REFUSED: 409,
  PAYLOAD_TOO_LARGE: 413,
  SCHEMA_BEHIND: 503,
  MIGRATION_LOCKED: 503,
} as const
export type ErrorCode = keyof typeof ERROR_CODES

export class FundwatchError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FundwatchError'
    this.code = code
    this.statusCode = ERROR_CODES[code]
  }
}

/**
 * A national transaction refused as the platform refuses it (docs/national-analysis.md,
 * "Errors"): answered HTTP 200 with infcode -1 and this text as err_msg.
 */
export class NationalRefusal extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'NationalRefusal'
  }
}
