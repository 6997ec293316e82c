import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderPostmortem } from '../../src/drills/postmortem.ts';
import { loadScenario } from '../../src/drills/scenario.ts';
import type { DrillRecord } from '../../src/drills/state.ts';
import { actionItemKey, deriveActionItems } from '../../src/incidents/action-items.ts';
import { REPO_ROOT } from '../helpers/cli.ts';

const scenario = loadScenario(join(REPO_ROOT, 'drills', 'bad-canary-at-50.yaml'));

function record(over: Partial<DrillRecord> = {}): DrillRecord {
  return {
    schema: 1,
    id: 'drill-1',
    scenario: scenario.name,
    title: scenario.title,
    severity: scenario.severity,
    file: scenario.file,
    startedAt: '2026-12-07T10:00:00.000Z',
    seed: 1,
    page: scenario.page,
    hintsTaken: 0,
    timeline: [],
    outcome: 'resolved',
    endedAt: '2026-12-07T10:05:00.000Z',
    times: { acknowledgeMs: 1000, detectMs: 1000, mitigateMs: 60_000 },
    faults: [],
    ...over,
  };
}

describe('action items', () => {
  it('keys are stable for the same incident and text, and differ across incidents', () => {
    const a = deriveActionItems(record(), scenario);
    const b = deriveActionItems(record(), scenario);
    expect(a.map((i) => i.key)).toEqual(b.map((i) => i.key));
    expect(new Set(a.map((i) => i.key)).size).toBe(a.length);
    const other = deriveActionItems(record({ id: 'drill-2' }), scenario);
    expect(other[0]?.key).not.toBe(a[0]?.key);
    expect(a[0]?.key).toBe(actionItemKey('drill-1', scenario.actionItems[0] as string));
  });

  it('adds the hint and paging follow-ups when the drill needed them', () => {
    const plain = deriveActionItems(record(), scenario).map((i) => i.source);
    expect(plain).not.toContain('hints');
    expect(plain).not.toContain('paging');
    const rough = deriveActionItems(
      record({ hintsTaken: 2, times: { detectMs: 1, mitigateMs: 1 } }),
      scenario,
    );
    expect(rough.map((i) => i.source)).toEqual([
      ...scenario.actionItems.map(() => 'scenario'),
      'hints',
      'paging',
    ]);
  });

  it('the Markdown postmortem lists exactly the derived items', () => {
    const r = record({ hintsTaken: 1 });
    const md = renderPostmortem(r, scenario);
    const listed = md
      .split('## Action items')[1]
      ?.split('\n')
      .filter((l) => l.startsWith('- [ ] '))
      .map((l) => l.slice(6));
    expect(listed).toEqual(deriveActionItems(r, scenario).map((i) => i.title));
  });
});
