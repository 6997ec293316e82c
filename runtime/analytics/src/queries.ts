/** Read side: stats per item, trending top-K over a sliding window, co-view recommendations. */
import type { Db } from '../../lib/storage/db.ts';
import { decodeSketch, topOfSketch } from './co-view-sketch.ts';
import { hllEstimate, hllFromBytes, hllMerge } from './hll.ts';

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
 * told apart, so they only break ties.
 */
export async function trending(
  db: Db,
  windowMs: number,
  k: number,
  now = Date.now(),
): Promise<TrendingItem[]> {
  const fromMinute = Math.floor((now - windowMs) / MINUTE) + 1;
  const rows = await db.query<{ content_id: string; views: number; viewers: number | null }>(
    `SELECT m.content_id, m.views, v.viewers FROM
       (SELECT content_id, SUM(views) AS views FROM item_minutes WHERE minute >= ? GROUP BY content_id) m
       LEFT JOIN (SELECT content_id, COUNT(DISTINCT user_id) AS viewers FROM item_minute_viewers
                  WHERE minute >= ? GROUP BY content_id) v ON v.content_id = m.content_id
     ORDER BY COALESCE(v.viewers, 0) DESC, m.views DESC, m.content_id LIMIT ?`,
    [fromMinute, fromMinute, k],
  );
  return rows.map((r) => ({
    contentId: r.content_id,
    viewers: Number(r.viewers ?? 0),
    views: Number(r.views),
  }));
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
