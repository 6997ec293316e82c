/**
 * Chaos Mesh objects on the cluster: created, deleted one by one, or all of platformctl's cleared
 * (found by the fault label), through the CustomObjects API.
 */
import { CHAOS_GROUP, CHAOS_PLURALS, CHAOS_VERSION, type ChaosObject, FAULT_LABEL } from './chaos.ts';
import { missingKindError } from './kube-errors.ts';
import { isNotFound, type KubeSession } from './kube-session.ts';
import { FIELD_MANAGER } from './manifests.ts';

/** Creates a Chaos Mesh object in the session's namespace (a missing CRD says what to install). */
export async function createChaos(session: KubeSession, obj: ChaosObject): Promise<void> {
  await session.call(`create ${obj.kind} ${obj.metadata.name}`, async (c) => {
    if (!(await c.rest.resource(obj.apiVersion, obj.kind))) throw missingKindError(obj.apiVersion, obj.kind);
    return c.custom.createNamespacedCustomObject({
      group: CHAOS_GROUP,
      version: CHAOS_VERSION,
      namespace: session.namespace,
      plural: CHAOS_PLURALS[obj.kind],
      body: obj,
      fieldManager: FIELD_MANAGER,
    });
  });
}

/** Deletes one Chaos Mesh object; one already gone is fine. */
export async function deleteChaos(session: KubeSession, plural: string, name: string): Promise<void> {
  await session.call(`delete ${plural} ${name}`, async (c) => {
    try {
      await c.custom.deleteNamespacedCustomObject({
        group: CHAOS_GROUP,
        version: CHAOS_VERSION,
        namespace: session.namespace,
        plural,
        name,
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  });
}

/** Deletes one fault by id, or every fault platformctl labelled in the namespace. */
export async function clearChaos(session: KubeSession, id?: string): Promise<void> {
  if (id) {
    const plural = id.startsWith('platformctl-net-') ? CHAOS_PLURALS.NetworkChaos : CHAOS_PLURALS.HTTPChaos;
    await deleteChaos(session, plural, id);
    return;
  }
  for (const plural of Object.values(CHAOS_PLURALS)) {
    const list = (await session.call(`list ${plural}`, async (c) => {
      try {
        return await c.custom.listNamespacedCustomObject({
          group: CHAOS_GROUP,
          version: CHAOS_VERSION,
          namespace: session.namespace,
          plural,
          labelSelector: `${FAULT_LABEL}=true`,
        });
      } catch (err) {
        // Chaos Mesh not installed: there is nothing to clear.
        if (isNotFound(err)) return { items: [] };
        throw err;
      }
    })) as { items?: { metadata?: { name?: string } }[] };
    for (const item of list.items ?? [])
      if (item.metadata?.name) await deleteChaos(session, plural, item.metadata.name);
  }
}
