import { describe, expect, it } from 'vitest';
import { toPlatformError } from '../core/errors.ts';
import { copyDatabase } from './copy.ts';

describe('db copy flags', () => {
  it('a wrong --from or --to is a usage error (exit 2), not "a bug in platformctl"', async () => {
    for (const [from, to, flag] of [
      ['postgres://a@h/db', 'postgres://b@h/db', '--from'],
      ['sqlite:///tmp/x.db', 'mysql://u:secret@h/db', '--to'],
    ] as const) {
      const err = toPlatformError(await copyDatabase({ from, to, migrations: [] }).catch((e: unknown) => e));
      expect(err).toMatchObject({ code: 'DB_URL_INVALID', exitCode: 2, source: 'user' });
      expect(err.message).toContain(flag);
      expect(err.message).not.toContain('secret');
      expect(err.hint).not.toContain('bug');
    }
  });
});
