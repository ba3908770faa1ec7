/**
 * The secured mode of the local broker (scripts/kafka/local-broker.ts,
 * `saslSsl`): a SASL_SSL client listener like a regulator's production
 * cluster, with everything it needs made on the spot in `<dataDir>/secure`:
 *
 * - a throwaway CA, and the broker's PKCS12 keystore and truststore, made with
 *   Java's `keytool` (it comes with the JRE that runs the broker);
 * - a client certificate signed by that CA, for brokers that require one:
 *   keytool cannot write a private key out as PEM, so the client's key and
 *   signing request come from `openssl` (.ci/run installs it) and keytool signs;
 * - SASL users with random passwords: SCRAM-SHA-512 and SCRAM-SHA-256
 *   credentials are written into the metadata when the storage is formatted
 *   (StorageTool's `--add-scram`, as `kafka-storage format --add-scram` does),
 *   PLAIN users are listed in the listener's JAAS config.
 *
 * Everything is made once per data dir and reused by later starts.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

export interface SaslSslOptions {
  /** SASL user names to create (default: `fundwatch`); each gets a random password. */
  users?: string[]
  /** `required`: clients must also present a certificate signed by the CA (mutual TLS), on top of SASL. Default `none`. */
  clientAuth?: 'required' | 'none'
}

/** What a client of the secured broker needs, as files: exactly the settings fundwatch takes. */
export interface SaslSslMaterial {
  dir: string
  clientAuth: 'required' | 'none'
  /** PEM of the throwaway CA that signed the broker's certificate (KAFKA_SSL_CA_FILE). */
  caFile: string
  /** A client certificate and its key, signed by the CA (KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE). */
  certFile: string
  keyFile: string
  /** SASL user → password: valid for SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN alike. */
  users: Record<string, string>
  /** SASL user → a file holding its password (KAFKA_SASL_PASSWORD_FILE). */
  passwordFiles: Record<string, string>
  /** The broker's own keystore and truststore, and their password. */
  keystore: string
  truststore: string
  storePassword: string
  /** The user the broker itself authenticates as on its inter-broker connections (PLAIN). */
  interBroker: { user: string; password: string }
}

const MATERIAL_FILE = 'material.json'
/** Long enough for any test run or a developer's week; the CA is thrown away with the data dir. */
const VALIDITY_DAYS = '30'

export function readSaslSslMaterial(dataDir: string): SaslSslMaterial | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, 'secure', MATERIAL_FILE), 'utf8')) as SaslSslMaterial
  } catch {
    return undefined
  }
}

function keytool(java: string): string {
  return path.join(path.dirname(java), 'keytool')
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' })
  if (r.error) throw new Error(`${path.basename(cmd)} could not run: ${r.error.message}`, { cause: r.error })
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args[0]} failed (exit ${String(r.status)}): ${`${r.stderr}${r.stdout}`.slice(-2000)}`)
}

/** Makes (or, when already made in this data dir, reads) the CA, keystores, client certificate and users. */
export function ensureSaslSslMaterial(dataDir: string, java: string, opts: SaslSslOptions = {}): SaslSslMaterial {
  const existing = readSaslSslMaterial(dataDir)
  if (existing) return existing
  const dir = path.join(dataDir, 'secure')
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const kt = keytool(java === 'java' ? whichJava() : java)
  const pass = randomBytes(12).toString('hex')
  const store = (file: string) => ['-keystore', file, '-storetype', 'PKCS12', '-storepass', pass]
  // The broker is reached as 127.0.0.1 (or localhost); clients check the name against these.
  const san = 'SAN=dns:localhost,ip:127.0.0.1'

  run(kt, ['-genkeypair', '-alias', 'ca', '-keyalg', 'RSA', '-keysize', '2048', '-dname', 'CN=fundwatch throwaway test CA', '-ext', 'bc:c', '-validity', VALIDITY_DAYS, ...store('ca.p12'), '-keypass', pass], dir)
  run(kt, ['-exportcert', '-alias', 'ca', '-rfc', '-file', 'ca.pem', ...store('ca.p12')], dir)

  run(kt, ['-genkeypair', '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048', '-dname', 'CN=localhost', '-ext', san, '-validity', VALIDITY_DAYS, ...store('broker.p12'), '-keypass', pass], dir)
  run(kt, ['-certreq', '-alias', 'broker', '-file', 'broker.csr', ...store('broker.p12')], dir)
  run(kt, ['-gencert', '-alias', 'ca', '-infile', 'broker.csr', '-outfile', 'broker.pem', '-rfc', '-ext', san, '-ext', 'KU=digitalSignature,keyEncipherment', '-ext', 'EKU=serverAuth,clientAuth', '-validity', VALIDITY_DAYS, ...store('ca.p12')], dir)
  // The chain goes in CA first, so keytool can link the signed certificate to its key's entry.
  run(kt, ['-importcert', '-alias', 'ca', '-file', 'ca.pem', '-noprompt', ...store('broker.p12')], dir)
  run(kt, ['-importcert', '-alias', 'broker', '-file', 'broker.pem', '-noprompt', ...store('broker.p12')], dir)
  run(kt, ['-importcert', '-alias', 'ca', '-file', 'ca.pem', '-noprompt', ...store('truststore.p12')], dir)

  // The client: key and request from openssl (PEM, unencrypted, as KAFKA_SSL_KEY_FILE takes it), signed by the CA with keytool.
  const clientAuth = opts.clientAuth ?? 'none'
  const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' })
  if (openssl.error) {
    if (clientAuth === 'required') throw new Error('a broker that requires client certificates needs openssl to make one (apt-get install openssl)')
  } else {
    run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-subj', '/CN=fundwatch-client', '-out', 'client.csr'], dir)
    run(kt, ['-gencert', '-alias', 'ca', '-infile', 'client.csr', '-outfile', 'client.pem', '-rfc', '-ext', 'KU=digitalSignature', '-ext', 'EKU=clientAuth', '-validity', VALIDITY_DAYS, ...store('ca.p12')], dir)
  }

  const users: Record<string, string> = {}
  const passwordFiles: Record<string, string> = {}
  for (const user of opts.users ?? ['fundwatch']) {
    if (!/^[A-Za-z0-9_.-]+$/.test(user)) throw new Error(`SASL user names here are [A-Za-z0-9_.-]+, got ${JSON.stringify(user)}`)
    users[user] = randomBytes(12).toString('hex')
    passwordFiles[user] = path.join(dir, `${user}.password`)
    fs.writeFileSync(passwordFiles[user], `${users[user]}\n`, { mode: 0o600 })
  }
  const material: SaslSslMaterial = {
    dir,
    clientAuth,
    caFile: path.join(dir, 'ca.pem'),
    certFile: path.join(dir, 'client.pem'),
    keyFile: path.join(dir, 'client.key'),
    users,
    passwordFiles,
    keystore: path.join(dir, 'broker.p12'),
    truststore: path.join(dir, 'truststore.p12'),
    storePassword: pass,
    interBroker: { user: 'broker', password: randomBytes(12).toString('hex') },
  }
  fs.writeFileSync(path.join(dir, MATERIAL_FILE), `${JSON.stringify(material, null, 2)}\n`, { mode: 0o600 })
  return material
}

function whichJava(): string {
  // keytool sits next to the java on PATH; resolve the symlinks Debian's alternatives put in between.
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'java')
    if (fs.existsSync(candidate)) return fs.realpathSync(candidate)
  }
  return 'java'
}

/** server.properties lines of the SASL_SSL client listener (the controller listener stays PLAINTEXT on loopback). */
export function saslSslProperties(m: SaslSslMaterial, port: number, controllerPort: number): Record<string, string> {
  const plainUsers = [[m.interBroker.user, m.interBroker.password], ...Object.entries(m.users)].map(([u, p]) => `user_${u}="${p}"`).join(' ')
  return {
    listeners: `SASL_SSL://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `SASL_SSL://127.0.0.1:${port}`,
    'listener.security.protocol.map': 'SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'SASL_SSL',
    'sasl.enabled.mechanisms': 'SCRAM-SHA-512,SCRAM-SHA-256,PLAIN',
    // PLAIN's users live in this config, so the broker's own connections need nothing formatted into the metadata.
    'sasl.mechanism.inter.broker.protocol': 'PLAIN',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_ssl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required username="${m.interBroker.user}" password="${m.interBroker.password}" ${plainUsers};`,
    'ssl.keystore.type': 'PKCS12',
    'ssl.keystore.location': m.keystore,
    'ssl.keystore.password': m.storePassword,
    'ssl.key.password': m.storePassword,
    'ssl.truststore.type': 'PKCS12',
    'ssl.truststore.location': m.truststore,
    'ssl.truststore.password': m.storePassword,
    // Only the listener-prefixed form applies to a SASL_SSL listener; plain `ssl.client.auth` is ignored there.
    'listener.name.sasl_ssl.ssl.client.auth': m.clientAuth,
  }
}

/** StorageTool arguments that create every user's SCRAM credentials in the metadata at format time. */
export function scramFormatArgs(m: SaslSslMaterial): string[] {
  return Object.entries(m.users).flatMap(([user, password]) => [
    '--add-scram', `SCRAM-SHA-512=[name=${user},password=${password}]`,
    '--add-scram', `SCRAM-SHA-256=[name=${user},password=${password}]`,
  ])
}

/**
 * The environment that points fundwatch at this broker as `user` with
 * SCRAM-SHA-512 over TLS, the password from its file and, when the broker
 * requires one, the client certificate.
 */
export function saslSslEnv(m: SaslSslMaterial, user = Object.keys(m.users)[0]!): Record<string, string> {
  return {
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: user,
    KAFKA_SASL_PASSWORD_FILE: m.passwordFiles[user]!,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: m.caFile,
    ...(m.clientAuth === 'required' ? { KAFKA_SSL_CERT_FILE: m.certFile, KAFKA_SSL_KEY_FILE: m.keyFile } : {}),
  }
}
