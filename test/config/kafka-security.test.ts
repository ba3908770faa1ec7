import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configFromEnv } from '../../src/config.ts'
import { kafkaSecurity } from '../../src/kafka/security.ts'
import { createLogger } from '../../src/log.ts'

/**
 * Issue 11, item 7: the KAFKA_SASL_* / KAFKA_SSL_* settings. Validation is the
 * config schema's; the files are read by kafkaSecurity() at start. The
 * delivery through a real SASL_SSL broker is test/kafka/secured.test.ts.
 */
const PASSWORD = 'pw-s3cret-7781'
let dir: string
const file = (name: string) => join(dir, name)

/** A self-signed certificate and its key, made with openssl (.ci/run installs it). */
function selfSigned(name: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.pem`)], { stdio: 'pipe' })
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fw-kafka-security-'))
  selfSigned('a')
  selfSigned('b')
  writeFileSync(file('password'), `${PASSWORD}\n`)
  writeFileSync(file('empty'), '\n')
  writeFileSync(file('not-pem'), 'hello\n')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const invalid = (env: NodeJS.ProcessEnv, message: RegExp) => {
  expect(() => kafkaSecurity(configFromEnv(env))).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(message) }))
}

describe('Kafka security settings', () => {
  it('refuses a SASL mechanism without credentials, and credentials without a mechanism', () => {
    invalid({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512' }, /KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME/)
    invalid({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'u' }, /exactly one of KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE/)
    invalid({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_PASSWORD: PASSWORD }, /KAFKA_SASL_USERNAME/)
    invalid({ KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SASL_PASSWORD_FILE: file('password') }, /exactly one/)
    invalid({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD }, /KAFKA_SASL_MECHANISM is not/)
    invalid({ KAFKA_SASL_MECHANISM: 'GSSAPI', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD }, /kafkaSaslMechanism/)
    // An empty password file is no password.
    invalid({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: file('empty') }, /non-empty password/)
  })

  it('refuses TLS files without KAFKA_SSL=true, a certificate without its key, and a KAFKA_SSL that is not a boolean', () => {
    invalid({ KAFKA_SSL_CA_FILE: file('a.pem') }, /KAFKA_SSL is not true/)
    invalid({ KAFKA_SSL: 'false', KAFKA_SSL_CA_FILE: file('a.pem') }, /KAFKA_SSL is not true/)
    invalid({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: file('a.pem') }, /needs its key/)
    invalid({ KAFKA_SSL: 'maybe' }, /kafkaSsl/)
  })

  it('reads the files at start and refuses what cannot be used, naming the setting and the path but no content', () => {
    invalid({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: file('missing.pem') }, /KAFKA_SSL_CA_FILE: cannot read .*missing\.pem \(ENOENT\)/)
    invalid({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: file('not-pem') }, /KAFKA_SSL_CA_FILE: .*not-pem does not hold a PEM certificate/)
    invalid({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: file('a.pem'), KAFKA_SSL_KEY_FILE: file('not-pem') }, /KAFKA_SSL_KEY_FILE: .*not-pem does not hold an unencrypted PEM private key/)
    invalid({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: file('a.pem'), KAFKA_SSL_KEY_FILE: file('b.key') }, /b\.key\) is not the key of the certificate/)
    invalid({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: file('nope') }, /KAFKA_SASL_PASSWORD_FILE: cannot read/)
  })

  it('builds kafkajs options: SCRAM-SHA-512 from a password file, the CA, the client certificate and key', () => {
    const security = kafkaSecurity(configFromEnv({
      KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'fundwatch', KAFKA_SASL_PASSWORD_FILE: file('password'),
      KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: file('b.pem'), KAFKA_SSL_CERT_FILE: file('a.pem'), KAFKA_SSL_KEY_FILE: file('a.key'),
    }))
    // The file's closing newline is not part of the password.
    expect(security.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'fundwatch', password: PASSWORD })
    expect(security.ssl).toEqual({ ca: [readFileSync(file('b.pem'), 'utf8')], cert: readFileSync(file('a.pem'), 'utf8'), key: readFileSync(file('a.key'), 'utf8') })

    expect(kafkaSecurity(configFromEnv({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD })).sasl).toEqual({ mechanism: 'scram-sha-256', username: 'u', password: PASSWORD })
    // TLS with the system's CAs; and nothing at all when nothing is set, as before.
    expect(kafkaSecurity(configFromEnv({ KAFKA_SSL: 'true' }))).toEqual({ ssl: true })
    expect(kafkaSecurity(configFromEnv({}))).toEqual({})
  })

  it('never prints the password: not in JSON, inspect, a string or a log line of the config', () => {
    const config = configFromEnv({ KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SSL: 'true' })
    const lines: string[] = []
    const log = createLogger({ level: 'info', destination: new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(chunk.toString()), cb()) }) })
    log.info({ config }, 'starting')
    for (const shown of [JSON.stringify(config), inspect(config, { depth: 5 }), `${String(config.kafkaSaslPassword)}`, lines.join('')]) {
      expect(shown).not.toContain(PASSWORD)
      expect(shown).toContain('[masked]')
    }
    expect(kafkaSecurity(config).sasl).toEqual({ mechanism: 'plain', username: 'u', password: PASSWORD })
  })

  it('warns that PLAIN without TLS sends the password in clear text', () => {
    const warnings: string[] = []
    kafkaSecurity(configFromEnv({ KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD }), { warn: (msg: string) => void warnings.push(msg) })
    expect(warnings).toEqual([expect.stringMatching(/PLAIN without KAFKA_SSL=true.*clear text/)])
    kafkaSecurity(configFromEnv({ KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SSL: 'true' }), { warn: (msg: string) => void warnings.push(msg) })
    expect(warnings).toHaveLength(1)
  })
})
