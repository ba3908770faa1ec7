import pino, { type Logger, type DestinationStream } from 'pino'

/**
 * Personal data never reaches a log line: the paths where 身份证号, names and
 * birthdays can appear in events, rows and alerts are censored, and the masking
 * test scans captured output for anything that slipped through.
 */
export const REDACT_PATHS = [
  'certno', 'psn_name', 'brdy',
  '*.certno', '*.psn_name', '*.brdy',
  // The national interface's names for them (auth/mask.ts MASKERS).
  'patn_name', 'coner_name', 'mdtrt_cert_no', '*.patn_name', '*.coner_name', '*.mdtrt_cert_no',
  'psn', '*.psn', '*.*.psn', 'payload.psn', 'event.payload.psn',
  'raw', '*.raw', 'raw_base64', '*.raw_base64',
  'token', '*.token', 'authorization', '*.authorization', 'req.headers.authorization',
]

export function createLogger(opts: { level?: string; destination?: DestinationStream; name?: string } = {}): Logger {
  return pino(
    { name: opts.name ?? 'fundwatch', level: opts.level ?? process.env.LOG_LEVEL ?? 'info', redact: { paths: REDACT_PATHS, censor: '[masked]' } },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  )
}
export type { Logger }
