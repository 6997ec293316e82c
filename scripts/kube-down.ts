/** `npm run kube:down`: stops the control plane `npm run kube:up` started, by its recorded PIDs. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { stopRecorded, type UpState, upStateFile } from '../test/helpers/kube-controlplane.ts';

const stateFile = upStateFile();
if (!existsSync(stateFile)) {
  console.error('no test control plane is up (npm run kube:up starts one)');
  process.exit(0);
}
const state = JSON.parse(readFileSync(stateFile, 'utf8')) as UpState;
const stopped = await stopRecorded(state);
rmSync(stateFile, { force: true });
console.error(`stopped ${stopped} component(s) and removed ${state.dir}`);
