import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { z } from 'zod'
import { PROMETHEUS_RULE_FILE, RULES_FILE, prometheusRule } from '../../scripts/gen-k8s-rules.ts'
import { PROBE_PATHS } from '../../src/api/probes.ts'
import { CONSOLE_ROUTES } from '../../src/api/console.ts'
import { configFromEnv, type Config } from '../../src/config.ts'
import { parseRules } from '../../src/detect/rules-file.ts'
import { buildRegistry } from '../../src/detect/registry.ts'
import { CreateTopicsOptions } from '../../src/kafka/topics.ts'

/**
 * The Kubernetes manifests against the code: what `kubectl kustomize`
 * renders (Debian's kubectl where no newer one is on PATH: .ci/run) must be valid
 * Kubernetes, and every container's environment must pass fundwatch's own
 * config parser — the same one start-up runs — so the manifests cannot drift
 * from the code.
 */
const root = join(import.meta.dirname, '../..')
const k8s = join(root, 'deploy/k8s')

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests, read field by field
type Obj = any
const render = (dir: string): Obj[] =>
  parseAllDocuments(execFileSync('kubectl', ['kustomize', join(k8s, dir)], { encoding: 'utf8' })).map((d) => d.toJSON() as Obj)

const overlay = render('overlays/example')
const base = render('base')
const one = (objs: Obj[], kind: string, name: string): Obj => {
  const found = objs.filter((o) => o.kind === kind && o.metadata.name === name)
  expect(found, `${kind}/${name}`).toHaveLength(1)
  return found[0]
}

/** Every workload's pod spec with its role (the first argument to the image's `fundwatch` entry point). */
function workloads(objs: Obj[]): { name: string; pod: Obj }[] {
  return objs.flatMap((o) => {
    if (o.kind === 'Deployment' || o.kind === 'Job') return [{ name: `${o.kind}/${o.metadata.name}`, pod: o.spec.template.spec }]
    if (o.kind === 'CronJob') return [{ name: `${o.kind}/${o.metadata.name}`, pod: o.spec.jobTemplate.spec.template.spec }]
    return []
  })
}
const containers = (objs: Obj[]) => workloads(objs).flatMap((w) => (w.pod.containers as Obj[]).map((c) => ({ ...w, c, role: c.args?.[0] as string })))

/** A container's environment as the kubelet would give it, resolved from the rendered ConfigMaps and Secrets. */
function envOf(objs: Obj[], c: Obj): Record<string, string> {
  const cm = (name: string) => one(objs, 'ConfigMap', name).data as Record<string, string>
  const secret = (name: string) => Object.fromEntries(Object.entries(one(objs, 'Secret', name).data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))
  const env: Record<string, string> = {}
  for (const from of c.envFrom ?? []) {
    expect(from.configMapRef, 'envFrom: ConfigMaps only').toBeDefined()
    Object.assign(env, cm(from.configMapRef.name))
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value
    else if (e.valueFrom?.configMapKeyRef) env[e.name] = cm(e.valueFrom.configMapKeyRef.name)[e.valueFrom.configMapKeyRef.key]!
    else if (e.valueFrom?.secretKeyRef) env[e.name] = secret(e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key]!
    expect(env[e.name], `${c.name}: ${e.name} resolves`).toBeDefined()
  }
  return env
}

/** The Prometheus Operator CRDs are not in kubernetes-models: the structure fundwatch relies on, checked here. */
const Labels = z.record(z.string(), z.string())
const CRDS: Record<string, z.ZodType> = {
  'monitoring.coreos.com/v1/ServiceMonitor': z.object({
    metadata: z.object({ name: z.string(), namespace: z.string().optional(), labels: Labels.optional() }),
    spec: z.object({
      jobLabel: z.string().optional(),
      selector: z.object({ matchLabels: Labels.optional(), matchExpressions: z.array(z.object({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).optional() }).strict()).optional() }).strict(),
      endpoints: z.array(z.object({ port: z.string(), path: z.string().startsWith('/'), interval: z.string().regex(/^\d+[smh]$/).optional(), honorLabels: z.boolean().optional() }).strict()).min(1),
    }).strict(),
  }),
  'monitoring.coreos.com/v1/PrometheusRule': z.object({
    metadata: z.object({ name: z.string(), namespace: z.string().optional(), labels: Labels.optional() }),
    spec: z.object({
      groups: z.array(z.object({
        name: z.string(),
        interval: z.string().optional(),
        rules: z.array(z.object({
          alert: z.string().optional(), record: z.string().optional(), expr: z.string().min(1),
          for: z.string().regex(/^\d+[smh]$/).optional(), labels: Labels.optional(), annotations: Labels.optional(),
        }).strict().refine((r) => !!r.alert !== !!r.record, 'a rule is an alert or a recording rule')).min(1),
      }).strict()).min(1),
    }).strict(),
  }),
}

/** Validates one object: Kubernetes kinds against kubernetes-models' schemas, the two CRDs against CRDS. */
async function validate(o: Obj): Promise<void> {
  const crd = CRDS[`${o.apiVersion}/${o.kind}`]
  if (crd) {
    crd.parse(o)
    return
  }
  if (o.kind === 'Secret') {
    // kustomize wraps long base64 values over lines; the API server's decoder (Go's
    // base64) skips line breaks, the schema's "byte" format does not.
    o = { ...o, data: Object.fromEntries(Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s/g, '')])) }
  }
  const mod = (await import(`kubernetes-models/${o.apiVersion}`).catch(() => ({}))) as Record<string, new (data: unknown) => { validate(): void }>
  const Model = mod[o.kind]
  if (!Model) throw new Error(`${o.apiVersion} ${o.kind}: not a Kubernetes kind kubernetes-models knows, nor a CRD this test checks`)
  new Model(o).validate()
}

const mebibytes = (q: string): number => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q)
  if (!m) throw new Error(`memory quantity ${q}: write it in Mi or Gi`)
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1)
}

describe('deploy/k8s: kustomize renders valid Kubernetes', () => {
  it('uses only kustomization fields every kustomize from v2.0 (Debian\'s kubectl) to v5 reads', () => {
    // Newer forms (labels, patches, options, a directory under resources) make
    // Debian's kubectl refuse the whole overlay.
    const known = new Set(['apiVersion', 'kind', 'namespace', 'bases', 'resources', 'commonLabels', 'images', 'configMapGenerator', 'secretGenerator', 'generatorOptions', 'patchesJson6902', 'patchesStrategicMerge'])
    for (const dir of ['base', 'overlays/example']) {
      const k = parse(readFileSync(join(k8s, dir, 'kustomization.yaml'), 'utf8')) as Record<string, unknown>
      expect(Object.keys(k).filter((key) => !known.has(key)), dir).toEqual([])
      for (const r of (k.resources as string[] | undefined) ?? []) expect(r, `${dir}: a directory belongs under bases`).toMatch(/\.ya?ml$/)
      for (const g of [...((k.configMapGenerator as object[] | undefined) ?? []), ...((k.secretGenerator as object[] | undefined) ?? [])]) expect(Object.keys(g), dir).not.toContain('options')
    }
  })

  it('`kubectl kustomize` renders the example overlay and the base; every object validates against the Kubernetes schemas', async () => {
    expect(overlay.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'ConfigMap', 'CronJob', 'Deployment', 'Deployment', 'Ingress', 'Job', 'Namespace', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'PodDisruptionBudget', 'PrometheusRule', 'Secret', 'Service', 'Service', 'ServiceAccount', 'ServiceMonitor'])
    for (const o of [...overlay, ...base]) await expect(validate(o), `${o.kind}/${o.metadata.name}`).resolves.toBeUndefined()
    // And the validation is real: a wrong type or a missing field is refused.
    const deployment = structuredClone(one(overlay, 'Deployment', 'fundwatch-processor'))
    deployment.spec.template.spec.containers[0].ports[0].containerPort = '9400'
    await expect(validate(deployment)).rejects.toThrow(/containerPort must be integer/)
    const monitor = structuredClone(one(overlay, 'ServiceMonitor', 'fundwatch'))
    monitor.spec.endpoints[0].prot = 'metrics'
    await expect(validate(monitor)).rejects.toThrow()
  })

  it('every container\'s environment passes fundwatch\'s config parser; only the migrate Job migrates', () => {
    const seen: Record<string, Config> = {}
    for (const { name, c, role } of containers(overlay)) {
      const env = envOf(overlay, c)
      const config = configFromEnv(env)
      seen[role] = config
      expect(config.host, `${name}: listens on the pod address`).toBe('0.0.0.0')
      expect(config.clickhouseUrl, `${name}: a ClickHouse server, not embedded chDB`).toMatch(/^http/)
      expect(env.FUNDWATCH_DATA_DIR, name).toBeUndefined()
      // The migrate command always migrates; every other role only checks the schema.
      expect(config.migrate, name).toBe('false')
      if (role !== 'migrate') {
        expect(config.kbDir, `${name}: a real knowledge base, not the synthetic sample`).toBe('/var/lib/fundwatch/kb')
        expect(config.rulesFile, name).toBe('/etc/fundwatch/rules/rules.yaml')
      }
    }
    expect(Object.keys(seen).sort()).toEqual(['audit', 'migrate', 'run', 'serve'])
    expect(seen.run!.kafkaBrokers, 'a processor needs its brokers').toBeTruthy()
    expect(seen.run!.metricsPort, 'a processor serves /metrics and the probes alone').toBe(9400)
    expect(containers(overlay).filter((x) => x.role === 'migrate').map((x) => x.name)).toEqual(['Job/fundwatch-migrate'])
  })

  it('the knowledge base and the rule base are mounted where the environment points, and the rule base parses', () => {
    for (const { name, c, pod, role } of containers(overlay)) {
      if (role === 'migrate') continue
      const config = configFromEnv(envOf(overlay, c))
      const mount = (path: string) => {
        const m = (c.volumeMounts as Obj[]).find((v) => path === v.mountPath || path.startsWith(`${v.mountPath}/`))
        expect(m, `${name}: ${path} is mounted`).toBeDefined()
        return { mount: m, volume: (pod.volumes as Obj[]).find((v) => v.name === m.name) }
      }
      const kb = mount(config.kbDir!)
      expect(kb.mount.readOnly).toBe(true)
      expect(one(overlay, 'PersistentVolumeClaim', kb.volume.persistentVolumeClaim.claimName).spec.accessModes).toEqual(['ReadOnlyMany'])
      const rules = mount(config.rulesFile!)
      const file = config.rulesFile!.slice(rules.mount.mountPath.length + 1)
      // A directory mount, never subPath: a subPath file does not follow ConfigMap edits, and the rule base is hot-reloaded.
      expect(rules.mount.subPath).toBeUndefined()
      const text = one(overlay, 'ConfigMap', rules.volume.configMap.name).data[file]
      expect(() => parseRules(text, buildRegistry(), 'rules.yaml')).not.toThrow()
    }
    const baseRules = readFileSync(join(k8s, 'base/rules.yaml'), 'utf8')
    expect(() => parseRules(baseRules, buildRegistry(), 'base/rules.yaml')).not.toThrow()
  })

  it('resources: requests and limits everywhere, and a heap of 75 % of the memory limit', () => {
    for (const { name, c } of containers(overlay)) {
      const { requests, limits } = c.resources
      expect(requests?.cpu && requests?.memory && limits?.cpu && limits?.memory, name).toBeTruthy()
      expect(requests.memory, `${name}: memory is not overcommitted`).toBe(limits.memory)
      const heap = /--max-old-space-size=(\d+)/.exec(envOf(overlay, c).NODE_OPTIONS ?? '')
      expect(heap, `${name}: NODE_OPTIONS sets the heap`).not.toBeNull()
      expect(Number(heap![1]), name).toBe(mebibytes(limits.memory) * 0.75)
    }
  })

  it('probes: /livez for liveness and start-up, /readyz for readiness, on the port the role serves them on', () => {
    const probed = containers(overlay).filter((x) => x.role === 'run' || x.role === 'serve')
    expect(probed).toHaveLength(2)
    for (const { name, c } of probed) {
      const config = configFromEnv(envOf(overlay, c))
      const port = (c.ports as Obj[]).find((p) => p.containerPort === (c.args[0] === 'run' ? config.metricsPort : config.port))
      expect(port, `${name}: the probe port is the one the process listens on`).toBeDefined()
      for (const [probe, path] of [['livenessProbe', '/livez'], ['startupProbe', '/livez'], ['readinessProbe', '/readyz']] as const) {
        expect(c[probe]?.httpGet, `${name} ${probe}`).toEqual({ path, port: port.name })
        expect(PROBE_PATHS).toContain(path)
      }
      // The process answers a stuck check within CHECK_TIMEOUT_MS (2 s): the kubelet gets an answer, not a timeout.
      expect(c.readinessProbe.timeoutSeconds).toBeGreaterThan(2)
    }
  })

  it('processors: replicas ≤ partitions (default from src/kafka/topics.ts), a disruption budget, and a grace period longer than a batch', () => {
    const defaultPartitions = CreateTopicsOptions.parse({}).partitions
    const baseProcessor = one(base, 'Deployment', 'fundwatch-processor')
    expect(Number(baseProcessor.metadata.annotations['fundwatch.io/claims-partitions'])).toBe(defaultPartitions)
    for (const d of [baseProcessor, one(overlay, 'Deployment', 'fundwatch-processor')]) {
      expect(d.spec.replicas).toBeLessThanOrEqual(Number(d.metadata.annotations['fundwatch.io/claims-partitions']))
    }
    const processor = one(overlay, 'Deployment', 'fundwatch-processor')
    const pdb = one(overlay, 'PodDisruptionBudget', 'fundwatch-processor')
    expect(pdb.spec.selector.matchLabels).toEqual(processor.spec.selector.matchLabels)
    expect(pdb.spec.maxUnavailable).toBe(1)
    // The last attempt of a batch: detection of a 4 MiB fetch (≈2 s at 8,000 lines/s), one
    // ClickHouse write (the client's 60 s request timeout, src/store/store.ts), the alerts
    // produce and the offset commit (kafkajs's 30 s request timeout each).
    const worstBatchSeconds = 2 + 60 + 30 + 30
    expect(processor.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(worstBatchSeconds)
  })

  it('the ServiceMonitor finds the processors and the API under the job names the alerting rules use', () => {
    const monitor = one(overlay, 'ServiceMonitor', 'fundwatch')
    const services = overlay.filter((o) => o.kind === 'Service' && Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v) && monitor.spec.selector.matchExpressions.every((e: Obj) => e.key in (o.metadata.labels ?? {})))
    const jobs = services.map((s) => s.metadata.labels[monitor.spec.jobLabel]).sort()
    expect(jobs).toEqual(['fundwatch-api', 'fundwatch-processor'])
    // The job names of deploy/prometheus/prometheus.yml, which the rules are written against.
    const scrape = parse(readFileSync(join(root, 'deploy/prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string }[] }
    expect(scrape.scrape_configs.map((c) => c.job_name).filter((j) => j.startsWith('fundwatch-')).sort()).toEqual(jobs)
    expect(readFileSync(RULES_FILE, 'utf8')).toContain('up{job="fundwatch-processor"}')
    // Each Service has a port one endpoint scrapes, and it leads to the container port serving /metrics.
    for (const s of services) {
      const port = (s.spec.ports as Obj[]).find((p) => monitor.spec.endpoints.some((e: Obj) => e.port === p.name))
      expect(port, s.metadata.name).toBeDefined()
      const d = overlay.find((o) => o.kind === 'Deployment' && Object.entries(s.spec.selector).every(([k, v]) => o.spec.template.metadata.labels[k] === v))
      expect((d.spec.template.spec.containers[0].ports as Obj[]).map((p) => p.name)).toContain(port.targetPort)
    }
  })

  it('the PrometheusRule is deploy/prometheus/rules.yml, generated (npx tsx scripts/gen-k8s-rules.ts)', () => {
    expect(readFileSync(PROMETHEUS_RULE_FILE, 'utf8')).toBe(prometheusRule())
    expect(execFileSync('npx', ['tsx', 'scripts/gen-k8s-rules.ts', '--check'], { cwd: root, encoding: 'utf8' })).toMatch(/matches/)
    const rendered = one(overlay, 'PrometheusRule', 'fundwatch')
    expect(rendered.spec.groups).toEqual((parse(readFileSync(RULES_FILE, 'utf8')) as { groups: unknown }).groups)
    // The generator follows an edit of rules.yml: a drifted file is what --check reports.
    expect(prometheusRule('groups: [{ name: x, rules: [{ alert: A, expr: "1" }] }]\n')).not.toBe(readFileSync(PROMETHEUS_RULE_FILE, 'utf8'))
  })

  it('secrets: the base commits none; the example overlay\'s are obviously fake', () => {
    expect(base.filter((o) => o.kind === 'Secret')).toEqual([])
    for (const s of overlay.filter((o) => o.kind === 'Secret')) {
      for (const v of Object.values(s.data as Record<string, string>)) expect(Buffer.from(v, 'base64').toString('utf8')).toMatch(/EXAMPLE/)
    }
  })

  it('the example Ingress routes the API, its docs and the console — not /metrics or the probes', () => {
    const paths = (one(overlay, 'Ingress', 'fundwatch').spec.rules as Obj[]).flatMap((r) => r.http.paths as Obj[])
    const routed = (url: string) => paths.some((p) => (p.pathType === 'Exact' ? url === p.path : url === p.path || url.startsWith(`${p.path.replace(/\/$/, '')}/`)))
    for (const url of ['/api/v1/alerts', '/docs', '/assets/index.js', ...CONSOLE_ROUTES.map((r) => r.replace(/:\w+/, 'x1'))]) expect(routed(url), url).toBe(true)
    for (const url of ['/metrics', ...PROBE_PATHS]) expect(routed(url), url).toBe(false)
  })
})
