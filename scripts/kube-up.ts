/**
 * `npm run kube:up`: builds the test control plane if the cache lacks it (test/kube/build.sh),
 * starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on free 127.0.0.1
 * ports, waits until the upstream CRDs are established and the simulated nodes are Ready, and
 * prints `KUBECONFIG=<path>` as the last line of stdout. Progress goes to stderr.
 * `npm run kube:down` stops it. Running kube:up again while it is up prints the same line.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startControlPlane,
  stopRecorded,
  type UpState,
  upStateFile,
} from '../test/helpers/kube-controlplane.ts';

const stateFile = upStateFile();
if (existsSync(stateFile)) {
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as UpState;
  const alive = state.pids.every((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === state.binary;
    } catch {
      return false;
    }
  });
  if (alive && existsSync(state.kubeconfig)) {
    console.error('the test control plane is already up (npm run kube:down stops it)');
    console.log(`KUBECONFIG=${state.kubeconfig}`);
    process.exit(0);
  }
  // A half-dead one (a component crashed, the machine slept): clear it and start afresh.
  await stopRecorded(state);
}

const started = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'platformctl-kube-up-'));
try {
  const cp = await startControlPlane({ dir, dieWithParent: false, log: (l) => console.error(l) });
  const state: UpState = {
    dir,
    kubeconfig: cp.kubeconfig,
    binary: readFileSync(`/proc/${cp.pids[0]}/cmdline`, 'utf8').split('\0')[0] as string,
    pids: cp.pids,
  };
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  console.error(`control plane ready in ${((Date.now() - started) / 1000).toFixed(1)}s; logs in ${dir}/logs`);
  console.error('use it: export the line below, then e.g. platformctl deploy content --env staging');
  console.log(`KUBECONFIG=${cp.kubeconfig}`);
  process.exit(0);
} catch (err) {
  console.error(`error: the test control plane did not start: ${(err as Error).message}`);
  console.error('hint: see the component logs above; npm run kube:down clears a half-started one');
  process.exit(1);
}
