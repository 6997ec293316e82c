/**
 * The zod type of a duration field in config files (platform.yaml, scenarios, experiments). Apart
 * from duration.ts so that commands which only format durations (`status`) do not load zod.
 */
import { z } from 'zod';
import { parseDuration } from '../../runtime/lib/duration.ts';

/** zod type for a duration field; the output is milliseconds. */
export const durationSchema = z
  .string({ error: 'expected a duration such as "500ms", "30s" or "5m"' })
  .refine((s) => parseDuration(s) !== undefined, {
    error: 'expected a duration such as "500ms", "30s" or "5m"',
    params: { fix: 'write a number followed by ms, s, m or h, e.g. "30s"' },
  })
  .transform((s) => parseDuration(s) as number);
