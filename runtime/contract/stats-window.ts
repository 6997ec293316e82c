/** Stats windows of the gateway's admin API have one-second resolution, from 1 s to 5 min. */
export const MIN_STATS_WINDOW_MS = 1000;
export const MAX_STATS_WINDOW_MS = 5 * 60_000;
