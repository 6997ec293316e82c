/**
 * The checks `deploy` makes before it starts anything, so a typo is a usage error at once (exit 2,
 * with "did you mean") instead of a background rollout that fails later.
 */

import { closest } from '../core/closest.ts';
import type { LoadedPlatform } from '../core/config/load.ts';
import { PlatformError, UsageError, unknownServiceError } from '../core/errors.ts';
import { listReleases, readRelease } from '../providers/local/releases.ts';
import type { Provider } from '../providers/provider.ts';

/** Throws unless `service` is configured. */
export function checkService(platform: LoadedPlatform, service: string): void {
  if (!(service in platform.config.services)) throw unknownServiceError(platform.config.services, service);
}

/**
 * Throws unless the rollout of `release` to `service` can start: the service is configured and
 * running, the release exists (locally releases are built by platformctl; elsewhere they are
 * images the cluster pulls, so only the cluster can tell), and it is not the version that runs.
 */
export async function checkDeployTarget(
  platform: LoadedPlatform,
  provider: Provider,
  service: string,
  release: string,
): Promise<void> {
  checkService(platform, service);
  if (provider.name === 'local' && !readRelease(platform.root, service, release)) {
    const versions: string[] = listReleases(platform.root, service).map((r) => r.version);
    const guess = closest(release, versions);
    throw new UsageError(
      `no release ${service}@${release}`,
      `${guess ? `did you mean "${guess}"? ` : ''}build it with \`platformctl release build ${service} --release ${release}\`${versions.length ? `, or pick one of \`platformctl release list ${service}\`` : ''}`,
      'RELEASE_NOT_FOUND',
    );
  }
  const running = (await provider.status()).services.find((s) => s.name === service);
  if (!running || running.versions.length === 0) {
    throw new PlatformError(
      'NOT_RUNNING',
      `${service} is not running, so there is nothing to roll out over`,
      {
        hint: `start it first: platformctl up ${service}`,
      },
    );
  }
  if (running.versions.length === 1 && running.versions[0] === release) {
    throw new UsageError(
      `${service} already runs ${release}`,
      `build a new release (\`platformctl release build ${service}\`) and deploy that`,
      'ALREADY_RUNNING',
    );
  }
}
