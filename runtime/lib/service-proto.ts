/**
 * Where a service's `.proto` file is, free of @grpc/grpc-js and @grpc/proto-loader: a service's
 * typed API module (runtime/auth/proto/auth-api.ts) names its proto at import time, and a caller
 * such as content imports that module at start, long before (if ever) it loads the gRPC libraries.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The path of a service's proto `name`, from the directory of the module asking (pass
 * `import.meta.dirname`): `proto/<name>` beside a release bundle or image entry (releases and
 * images copy the service's `proto/` directory there), else `../proto/<name>` from the sources
 * (`runtime/<service>/src` next to `runtime/<service>/proto`).
 */
export function serviceProto(moduleDir: string, name: string): string {
  const candidates = [join(moduleDir, 'proto', name), join(moduleDir, '..', 'proto', name)];
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`proto ${name} not found (looked for ${candidates.join(' and ')})`);
  return found;
}
