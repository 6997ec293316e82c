/** Builds the CLI once before the suite so e2e tests run bin/platformctl exactly as users do. */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.ts'], { stdio: 'inherit' });
}
