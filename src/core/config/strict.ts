import { z } from 'zod';

/** A strict object whose unknown-key error lists the keys that are allowed. */
export function strict<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? { message: 'unknown key', params: { known: Object.keys(shape) } }
        : undefined,
  });
}
