/**
 * A stand-in `terraform` placed first on PATH: it records each call (cwd, argv and the automation
 * variables) as a JSON line in $FAKE_TF_LOG, sleeps $FAKE_TF_SLEEP seconds if set, and exits with
 * $FAKE_TF_<SUBCOMMAND>_EXIT (default 0).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TerraformCall {
  cwd: string;
  args: string[];
  TF_IN_AUTOMATION?: string;
  TF_INPUT?: string;
}

const SCRIPT = `#!/bin/sh
log="$FAKE_TF_LOG"
args=""
for a in "$@"; do args="$args\\"$a\\","; done
printf '{"cwd":"%s","TF_IN_AUTOMATION":"%s","TF_INPUT":"%s","args":[%s]}\\n' "$PWD" "$TF_IN_AUTOMATION" "$TF_INPUT" "\${args%,}" >> "$log"
echo "fake terraform $1"
if [ -n "$FAKE_TF_SLEEP" ]; then sleep "$FAKE_TF_SLEEP"; fi
case "$1" in
  init) exit "\${FAKE_TF_INIT_EXIT:-0}" ;;
  plan) exit "\${FAKE_TF_PLAN_EXIT:-0}" ;;
  apply) exit "\${FAKE_TF_APPLY_EXIT:-0}" ;;
esac
exit 0
`;

/** Writes the fake into `<dir>/bin/terraform`; returns its directory and the log path. */
export function installFakeTerraform(dir: string): { binDir: string; log: string; calls(): TerraformCall[] } {
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  const file = join(binDir, 'terraform');
  writeFileSync(file, SCRIPT);
  chmodSync(file, 0o755);
  const log = join(dir, 'terraform-calls.jsonl');
  return {
    binDir,
    log,
    calls: () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as TerraformCall)
        : [],
  };
}
