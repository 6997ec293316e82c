/** Durations in config files and flags; parsing is shared with the runtime kit. */
export { formatDuration, parseDuration } from '../../runtime/lib/duration.ts';
