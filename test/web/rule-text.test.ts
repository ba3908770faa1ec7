// The console's rule editor rewrites one detector's entry in the rule-base text
// in force (web/src/rule-text.ts): what it did not touch must come back byte
// for byte, so a change reviews as a small diff in git.
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { parseRules } from '../../src/detect/rules-file.ts'
import { FundwatchError } from '../../src/errors.ts'
import { detectors } from '../../detectors/index.ts'
import { errorLine, readRule, ruleEntry, withRule, type RuleEdit } from '../../web/src/rule-text.ts'

const IN_FORCE = `# 规则库 — a province's rule base
version: "sd-2026-12"
defaults:
  enabled: true
detectors:
  split-hospitalization:
    params:
      window_days: 15 # 15 days, per the 2025 notice
  # 潍坊 (3707) only, as a pilot of a stricter judgement.
  duplicate-charge:
    severity: high
    scope:
      admdvs: ["3707"]
  over-standard-charge:
    enabled: false
`
const OSC_DEFAULTS = { tolerance_pct: 0, min_excess_amount: 0.01 }
const edit = (o: Partial<RuleEdit>): RuleEdit => ({ mode: 'on', params: {}, scope: {}, ...o })

describe('rule-base text edited by the console', () => {
  it('reads the mode as the server does: mode, else enabled:false = off, else an entry runs, else the defaults', () => {
    expect(readRule(IN_FORCE, 'over-standard-charge')).toEqual({ entry: { enabled: false }, mode: 'off' })
    expect(readRule(IN_FORCE, 'duplicate-charge').mode).toBe('on')
    expect(readRule(IN_FORCE, 'unbundling')).toEqual({ entry: undefined, mode: 'on' })
    expect(readRule('defaults:\n  enabled: false\n', 'unbundling').mode).toBe('off')
    expect(readRule('detectors:\n  unbundling:\n    mode: shadow\n', 'unbundling').mode).toBe('shadow')
    expect(readRule('', 'unbundling')).toEqual({ entry: undefined, mode: 'on' })
  })

  it('rewrites one entry and leaves every other line, comment and quote as it was', () => {
    const entry = ruleEntry(edit({ mode: 'shadow', params: { tolerance_pct: 10, min_excess_amount: 0.01 } }), OSC_DEFAULTS, readRule(IN_FORCE, 'over-standard-charge').entry)
    expect(entry).toEqual({ mode: 'shadow', params: { tolerance_pct: 10 } })
    const out = withRule(IN_FORCE, 'over-standard-charge', entry)
    expect(out).toBe(IN_FORCE.replace('    enabled: false\n', '    mode: "shadow"\n    params:\n      tolerance_pct: 10\n'))
  })

  it('keeps the comments on the keys it changes in place', () => {
    const before = readRule(IN_FORCE, 'duplicate-charge').entry
    const out = withRule(IN_FORCE, 'duplicate-charge', ruleEntry(edit({ severity: 'critical', scope: { admdvs: ['3707', '3701'], levels: [2, 3] } }), {}, before))
    expect(out).toContain('  # 潍坊 (3707) only, as a pilot of a stricter judgement.\n  duplicate-charge:\n    severity: critical\n    scope:\n      admdvs: ["3707", "3701"]\n      levels: [2, 3]\n    mode: "on"\n')
    expect(out).toContain('window_days: 15 # 15 days, per the 2025 notice')
    expect(parse(out).detectors['duplicate-charge']).toEqual({ mode: 'on', severity: 'critical', scope: { admdvs: ['3707', '3701'], levels: [2, 3] } })
  })

  it('drops what the form unset (judgement, scope) and keeps a pinned parameter pinned even at its default', () => {
    const text = 'detectors:\n  over-standard-charge:\n    severity: high\n    params:\n      min_excess_amount: 0.01\n    scope:\n      admdvs: ["3707"]\n'
    const entry = ruleEntry(edit({ params: { tolerance_pct: 0, min_excess_amount: 0.01 } }), OSC_DEFAULTS, readRule(text, 'over-standard-charge').entry)
    expect(entry).toEqual({ mode: 'on', params: { min_excess_amount: 0.01 } })
    expect(withRule(text, 'over-standard-charge', entry)).toBe('detectors:\n  over-standard-charge:\n    params:\n      min_excess_amount: 0.01\n    mode: "on"\n')
  })

  it('writes a first rule base from nothing (no version recorded yet: the defaults are in force)', () => {
    const out = withRule('', 'unbundling', ruleEntry(edit({ mode: 'off', params: { scope: 'visit' } }), { scope: 'day' }, undefined))
    expect(parse(out)).toEqual({ detectors: { unbundling: { mode: 'off', params: { scope: 'visit' } } } })
    expect(withRule('detectors:\n', 'unbundling', { mode: 'on' })).toBe('detectors:\n  unbundling:\n    mode: "on"\n')
  })

  it('compares lists and objects by value, so an unchanged list is not rewritten in another style', () => {
    const text = 'detectors:\n  split-hospitalization:\n    params:\n      planned_cycle_prefixes:\n        - Z49 # dialysis\n        - Z51\n'
    const entry = ruleEntry(edit({ params: { planned_cycle_prefixes: ['Z49', 'Z51'], window_days: 15 } }), { planned_cycle_prefixes: ['Z49', 'Z51'], window_days: 15 }, readRule(text, 'split-hospitalization').entry)
    expect(withRule(text, 'split-hospitalization', entry)).toBe(`${text}    mode: "on"\n`)
  })

  it('finds the line in the server\'s refusal, for a parameter out of range and for text that is not YAML', () => {
    const refusal = (text: string): string => {
      try {
        parseRules(text, detectors, 'api')
      } catch (err) {
        if (err instanceof FundwatchError) return err.message
        throw err
      }
      throw new Error('accepted')
    }
    const text = withRule(IN_FORCE, 'over-standard-charge', { params: { tolerance_pct: 150 } })
    const line = errorLine(refusal(text))
    expect(text.split('\n')[line! - 1]).toContain('tolerance_pct: 150')
    expect(errorLine(refusal('detectors:\n  x: [\n'))).toBe(3)
    expect(errorLine('rule base: detectors: something')).toBeUndefined()
  })
})
