import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { grpcurl, grpcurlCachePath, grpcurlPath, grpcurlSkipReason } from '../helpers/grpcurl.ts';

const skip = grpcurlSkipReason();
const here = import.meta.dirname;

describe('the grpcurl recipe', () => {
  it('pins the upstream module and keeps the go directive one Go 1.26 accepts', () => {
    const mod = readFileSync(join(here, 'go.mod'), 'utf8');
    expect(mod).toMatch(/^tool github\.com\/fullstorydev\/grpcurl\/cmd\/grpcurl$/m);
    expect(mod).toMatch(/github\.com\/fullstorydev\/grpcurl v1\.9\.4/);
    const [, minor] = mod.match(/^go 1\.(\d+)/m) ?? [];
    expect(Number(minor)).toBeLessThanOrEqual(26);
  });

  it('names the missing binary and the command that builds it', () => {
    const saved = { bin: process.env.PLATFORMCTL_GRPCURL, ci: process.env.CI };
    process.env.PLATFORMCTL_GRPCURL = '/nonexistent/grpcurl';
    delete process.env.CI;
    try {
      expect(grpcurlPath()).toBeUndefined();
      expect(grpcurlSkipReason()).toMatch(
        /\/nonexistent\/grpcurl does not exist.*bash test\/grpcurl\/build\.sh/,
      );
    } finally {
      if (saved.bin === undefined) delete process.env.PLATFORMCTL_GRPCURL;
      else process.env.PLATFORMCTL_GRPCURL = saved.bin;
      if (saved.ci !== undefined) process.env.CI = saved.ci;
    }
  });

  it.skipIf(skip)(
    'build.sh and the helper agree on where the binary is, and it is the pinned upstream grpcurl',
    async () => {
      if (!process.env.PLATFORMCTL_GRPCURL) {
        // Cached: build.sh prints the path at once instead of building.
        const printed = execFileSync('bash', [join(here, 'build.sh')], { encoding: 'utf8' })
          .trim()
          .split('\n')
          .pop();
        expect(printed).toBe(grpcurlCachePath());
      }
      const version = await grpcurl(['-version']);
      expect(version.exitCode).toBe(0);
      expect(`${version.stdout}${version.stderr}`).toMatch(/grpcurl v1\.9\.4/);
    },
  );
});
