/** Read side: stats per item, trending top-K over a sliding window, co-view recommendations. */
import type { Db } from '../../lib/storage/db.ts';
import { decodeSketch, topOfSketch } from './co-view-sketch.ts';
import { createHll, hllEstimate, hllFromBytes, hllMerge, hllMergeBytes } from './hll.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;

export interface ContentStats {
  contentId: string;
  views: number;
  uploads: number;
  /** Distinct signed-in viewers over all days (HyperLogLog estimate, ~1.6 % error). */
  uniqueViewers: number;
  /** Distinct signed-in viewers today (UTC). */
  uniqueViewersToday: number;
  /** Views per minute over the last `minutes` minutes (minutes without views omitted). */
  perMinute: { minute: string; views: number }[];
}

export async function contentStats(
  db: Db,
  contentId: string,
  minutes: number,
  now = Date.now(),
): Promise<ContentStats> {
  const totals = await db.get<{ views: number; uploads: number }>(
    'SELECT views, uploads FROM item_totals WHERE content_id = ?',
    [contentId],
  );
  const fromMinute = Math.floor(now / MINUTE) - minutes + 1;
  const perMinute = await db.query<{ minute: number; views: number }>(
    'SELECT minute, views FROM item_minutes WHERE content_id = ? AND minute >= ? ORDER BY minute',
    [contentId, fromMinute],
  );
  const days = await db.query<{ day: number; registers: Uint8Array }>(
    'SELECT day, registers FROM item_day_viewers WHERE content_id = ?',
    [contentId],
  );
  const today = Math.floor(now / DAY);
  const all = hllFromBytes(undefined);
  let uniqueViewersToday = 0;
  for (const d of days) {
    const registers = hllFromBytes(d.registers);
    if (d.day === today) uniqueViewersToday = hllEstimate(registers);
    hllMerge(all, registers);
  }
  return {
    contentId,
    views: totals?.views ?? 0,
    uploads: totals?.uploads ?? 0,
    uniqueViewers: days.length === 0 ? 0 : hllEstimate(all),
    uniqueViewersToday,
    perMinute: perMinute.map((r) => ({ minute: new Date(r.minute * MINUTE).toISOString(), views: r.views })),
  };
}

export interface TrendingItem {
  contentId: string;
  /** Distinct signed-in viewers in the window: what ranks the items. */
  viewers: number;
  /** All views in the window (anonymous ones too): breaks ties. */
  views: number;
}

/**
 * Top `k` items by distinct signed-in viewers in the last `windowMs` (minute granularity), then
 * by views: one account viewing an item a thousand times counts once. Anonymous views cannot be
 * told apart, so they only break ties. Viewers are the union of the item's per-minute HyperLogLog
 * sketches over the window (exact for small counts, ~1.6 % error for large ones).
 */
export async function trending(
  db: Db,
  windowMs: number,
  k: number,
  now = Date.now(),
): Promise<TrendingItem[]> {
  const fromMinute = Math.floor((now - windowMs) / MINUTE) + 1;
  const views = await db.query<{ content_id: string; views: number }>(
    'SELECT content_id, SUM(views) AS views FROM item_minutes WHERE minute >= ? GROUP BY content_id',
    [fromMinute],
  );
  const sketches = new Map<string, Uint8Array[]>();
  for (const r of await db.query<{ content_id: string; registers: Uint8Array }>(
    'SELECT content_id, registers FROM item_minute_sketches WHERE minute >= ?',
    [fromMinute],
  )) {
    const list = sketches.get(r.content_id);
    if (list) list.push(r.registers);
    else sketches.set(r.content_id, [r.registers]);
  }
  // One scratch sketch, reused for every item: the union costs 4 KiB, not 4 KiB per item.
  const union = createHll();
  const items = views.map((r) => {
    let viewers = 0;
    const stored = sketches.get(r.content_id);
    if (stored) {
      union.fill(0);
      for (const bytes of stored) hllMergeBytes(union, bytes);
      viewers = hllEstimate(union);
    }
    return { contentId: r.content_id, viewers, views: Number(r.views) };
  });
  items.sort(
    (a, b) =>
      b.viewers - a.viewers ||
      b.views - a.views ||
      (a.contentId < b.contentId ? -1 : a.contentId > b.contentId ? 1 : 0),
  );
  return items.slice(0, k);
}

export interface Recommendation {
  contentId: string;
  /**
   * Number of users who viewed both items within the co-view window: exact while the item has
   * had fewer partners than its sketch holds, otherwise an over-estimate by at most the count of
   * the partner it displaced (see co-view-sketch.ts).
   */
  coViews: number;
}

export async function recommendations(db: Db, contentId: string, k: number): Promise<Recommendation[]> {
  const row = await db.get<{ partners: string }>('SELECT partners FROM co_view_topk WHERE content_id = ?', [
    contentId,
  ]);
  return topOfSketch(decodeSketch(row?.partners), k).map(([b, n]) => ({ contentId: b, coViews: n }));
}
