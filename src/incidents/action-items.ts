/**
 * A postmortem's action items as data: the list the Markdown report shows and the list that
 * `incident file-actions` files in the team's tracker come from this one function, so the two
 * never disagree. Each item has a key that stays the same however often it is derived — the
 * tracker integrations store it on the issue they create, which is what makes filing idempotent.
 */
import { createHash } from 'node:crypto';
import type { Scenario } from '../drills/scenario.ts';
import type { DrillRecord } from '../drills/state.ts';

/** One follow-up of an incident or drill. */
export interface ActionItem {
  /** Stable across runs: derived from the incident id and the item's text. */
  key: string;
  /** One line: the title. */
  title: string;
  /** Where the item came from, for the body. */
  source: 'scenario' | 'hints' | 'paging';
}

/** The key of an item: 12 hex digits of SHA-256 over the incident id and the item's text. */
export function actionItemKey(incidentId: string, title: string): string {
  return createHash('sha256').update(`${incidentId}\n${title}`).digest('hex').slice(0, 12);
}

/** The action items of a finished drill, in the order the postmortem lists them. */
export function deriveActionItems(record: DrillRecord, scenario: Scenario): ActionItem[] {
  const items: Omit<ActionItem, 'key'>[] = scenario.actionItems.map((title) => ({
    title,
    source: 'scenario',
  }));
  if (record.hintsTaken > 0)
    items.push({
      title: `Put what hint ${record.hintsTaken} said into the runbook and the alert's description.`,
      source: 'hints',
    });
  const ack = record.times?.acknowledgeMs;
  if (ack === undefined || ack > scenario.targets.acknowledge)
    items.push({
      title: 'Check the paging path (who is on call, does the page reach them, is it loud enough).',
      source: 'paging',
    });
  return items.map((i) => ({ ...i, key: actionItemKey(record.id, i.title) }));
}
