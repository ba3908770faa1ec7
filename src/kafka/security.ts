import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import type { KafkaConfig, SASLOptions } from 'kafkajs'
import type { Config } from '../config.ts'
import { FundwatchError } from '../errors.ts'

/** What a client needs to join a secured cluster: kafkajs's own `ssl` and `sasl` options (createKafka spreads them in). */
export type KafkaSecurity = Pick<KafkaConfig, 'ssl' | 'sasl'>

export type KafkaSecuritySettings = Pick<Config, 'kafkaSaslMechanism' | 'kafkaSaslUsername' | 'kafkaSaslPassword' | 'kafkaSaslPasswordFile' | 'kafkaSsl' | 'kafkaSslCaFile' | 'kafkaSslCertFile' | 'kafkaSslKeyFile'>

/**
 * Builds the TLS and SASL options from the configuration, reading the CA,
 * certificate, key and password files now: a role calls it once at start, so
 * a missing or unreadable file, a PEM that is not a certificate or a key that
 * does not belong to its certificate stops the process with CONFIG_INVALID
 * before it touches the store, not at the first reconnect hours later. Rotated
 * files take effect at the next start. Error messages name the setting and the
 * path, never a file's content.
 */
export function kafkaSecurity(config: KafkaSecuritySettings, log?: { warn(msg: string): void }): KafkaSecurity {
  const security: KafkaSecurity = {}
  if (config.kafkaSsl) {
    const tls: ConnectionOptions = {}
    if (config.kafkaSslCaFile) {
      const ca = readSetting('KAFKA_SSL_CA_FILE', config.kafkaSslCaFile)
      parseOrRefuse('KAFKA_SSL_CA_FILE', config.kafkaSslCaFile, 'a PEM certificate', () => new X509Certificate(ca))
      tls.ca = [ca]
    }
    if (config.kafkaSslCertFile && config.kafkaSslKeyFile) {
      const cert = readSetting('KAFKA_SSL_CERT_FILE', config.kafkaSslCertFile)
      const key = readSetting('KAFKA_SSL_KEY_FILE', config.kafkaSslKeyFile)
      const x509 = parseOrRefuse('KAFKA_SSL_CERT_FILE', config.kafkaSslCertFile, 'a PEM certificate', () => new X509Certificate(cert))
      const privateKey = parseOrRefuse('KAFKA_SSL_KEY_FILE', config.kafkaSslKeyFile, 'an unencrypted PEM private key', () => createPrivateKey(key))
      if (!x509.checkPrivateKey(privateKey)) {
        throw new FundwatchError('CONFIG_INVALID', `KAFKA_SSL_KEY_FILE (${config.kafkaSslKeyFile}) is not the key of the certificate in KAFKA_SSL_CERT_FILE (${config.kafkaSslCertFile})`)
      }
      tls.cert = cert
      tls.key = key
    }
    security.ssl = Object.keys(tls).length > 0 ? tls : true
  }
  if (config.kafkaSaslMechanism) {
    const username = config.kafkaSaslUsername
    // A file written with `echo` or by an editor ends in a newline that is not part of the password.
    const password = config.kafkaSaslPassword?.reveal() ?? (config.kafkaSaslPasswordFile ? readSetting('KAFKA_SASL_PASSWORD_FILE', config.kafkaSaslPasswordFile).replace(/\r?\n$/, '') : '')
    if (!username || password === '') throw new FundwatchError('CONFIG_INVALID', 'KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and a non-empty password (KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE)')
    security.sasl = saslOptions(config.kafkaSaslMechanism, username, password)
    if (config.kafkaSaslMechanism === 'PLAIN' && !config.kafkaSsl) {
      log?.warn('KAFKA_SASL_MECHANISM=PLAIN without KAFKA_SSL=true: the password crosses the network in clear text; use TLS or SCRAM')
    }
  }
  return security
}

function saslOptions(mechanism: NonNullable<Config['kafkaSaslMechanism']>, username: string, password: string): SASLOptions {
  switch (mechanism) {
    case 'SCRAM-SHA-512':
      return { mechanism: 'scram-sha-512', username, password }
    case 'SCRAM-SHA-256':
      return { mechanism: 'scram-sha-256', username, password }
    case 'PLAIN':
      return { mechanism: 'plain', username, password }
  }
}

function readSetting(setting: string, file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new FundwatchError('CONFIG_INVALID', `${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err })
  }
}

function parseOrRefuse<T>(setting: string, file: string, what: string, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    throw new FundwatchError('CONFIG_INVALID', `${setting}: ${file} does not hold ${what}`, { cause: err })
  }
}
