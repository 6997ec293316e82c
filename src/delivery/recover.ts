/**
 * Finishing a rollout whose runner is gone (killed, machine rebooted): `canary abort` and
 * `canary promote` then act directly on the provider, so a half-done canary is never stuck.
 */
import type { DeliveryProvider } from './rollout.ts';
import { type RolloutState, writeState } from './store.ts';

export async function finishOrphan(
  root: string,
  st: RolloutState,
  provider: DeliveryProvider,
  action: 'abort' | 'promote',
): Promise<RolloutState> {
  const now = new Date().toISOString();
  const event = (type: string, message: string) => ({
    at: new Date().toISOString(),
    type,
    service: st.service,
    message,
  });
  if (action === 'abort') {
    await provider.setTraffic(st.service, { weights: { [st.stable]: 100, [st.release]: 0 } });
    await provider.retire(st.service, st.release).catch(() => undefined);
    st.phase = 'RolledBack';
    st.weight = 0;
    st.outcome = {
      result: 'rolledBack',
      reason: `aborted by a user after the runner (pid ${st.pid}) had gone`,
    };
    st.events.push(event('rollout.rolledBack', `${st.stable} serves 100%; ${st.release} stopped`));
  } else {
    await provider.setTraffic(st.service, { weights: { [st.release]: 100 } });
    await provider.retire(st.service, st.stable).catch(() => undefined);
    st.phase = 'Promoted';
    st.weight = 100;
    st.outcome = {
      result: 'promoted',
      reason: `promoted by a user after the runner (pid ${st.pid}) had gone`,
    };
    st.events.push(event('rollout.promoted', `${st.release} serves 100%; ${st.stable} stopped`));
  }
  st.message = st.outcome.reason;
  st.finishedAt = now;
  st.updatedAt = now;
  st.pid = process.pid;
  writeState(root, st);
  return st;
}
