// Writes deploy/k8s/base/prometheusrule.yaml: the Prometheus Operator's
// PrometheusRule carrying deploy/prometheus/rules.yml's groups verbatim, so
// the alerts in Kubernetes are the ones promtool tests (rules.test.yml) —
// one rules file, never a copy edited on its own. A configMapGenerator
// cannot do it: the Operator loads rules from PrometheusRule objects, whose
// spec.groups is structured YAML, not a file in a ConfigMap.
// `--check` fails when the committed file differs (test/deploy/k8s.test.ts runs it).
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'

const root = join(import.meta.dirname, '..')
export const RULES_FILE = join(root, 'deploy', 'prometheus', 'rules.yml')
export const PROMETHEUS_RULE_FILE = join(root, 'deploy', 'k8s', 'base', 'prometheusrule.yaml')

export function prometheusRule(rulesYaml = readFileSync(RULES_FILE, 'utf8')): string {
  const { groups } = parse(rulesYaml) as { groups: unknown[] }
  const doc = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'fundwatch', labels: { 'app.kubernetes.io/name': 'fundwatch' } },
    spec: { groups },
  }
  return [
    '# Generated from deploy/prometheus/rules.yml by scripts/gen-k8s-rules.ts: do not edit.',
    '# Edit rules.yml (and its promtool tests), then run npx tsx scripts/gen-k8s-rules.ts.',
    '# Your Prometheus may select rules by a label (ruleSelector): add it in your overlay.',
    stringify(doc, { lineWidth: 0 }),
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = prometheusRule()
  if (process.argv.includes('--check')) {
    if (readFileSync(PROMETHEUS_RULE_FILE, 'utf8') !== text) {
      console.error('deploy/k8s/base/prometheusrule.yaml is out of date with deploy/prometheus/rules.yml: run npx tsx scripts/gen-k8s-rules.ts')
      process.exit(1)
    }
    console.log('deploy/k8s/base/prometheusrule.yaml matches deploy/prometheus/rules.yml')
  } else {
    writeFileSync(PROMETHEUS_RULE_FILE, text)
    console.log('wrote deploy/k8s/base/prometheusrule.yaml')
  }
}
