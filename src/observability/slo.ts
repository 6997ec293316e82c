/**
 * SLO arithmetic for alerting: error budgets and the multiwindow, multi-burn-rate alert pairs of
 * the Google SRE workbook ("Alerting on SLOs"). A fast burn pages, a slow burn opens a ticket.
 */

/** One alerting tier: fire when both windows burn budget faster than `burnRate`. */
export interface BurnTier {
  severity: 'page' | 'ticket';
  /** The long window proves the burn is significant; the short one that it is still happening. */
  longWindow: string;
  shortWindow: string;
  burnRate: number;
  /** Share of a 30-day budget this tier catches being spent, for the alert text. */
  budgetSpent: string;
}

/** The workbook's recommended tiers for a 30-day SLO window. */
export const BURN_TIERS: readonly BurnTier[] = [
  { severity: 'page', longWindow: '1h', shortWindow: '5m', burnRate: 14.4, budgetSpent: '2% in 1h' },
  { severity: 'page', longWindow: '6h', shortWindow: '30m', burnRate: 6, budgetSpent: '5% in 6h' },
  { severity: 'ticket', longWindow: '1d', shortWindow: '2h', burnRate: 3, budgetSpent: '10% in 1d' },
  { severity: 'ticket', longWindow: '3d', shortWindow: '6h', burnRate: 1, budgetSpent: '10% in 3d' },
];

/** The windows recording rules must precompute, shortest first. */
export const RECORDED_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;

/** Error budget as a ratio: 99.9% availability leaves 0.001. */
export function errorBudget(availabilityPercent: number): number {
  return Number((1 - availabilityPercent / 100).toPrecision(6));
}
