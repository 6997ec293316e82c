/**
 * The Kustomize patches `gitops render`'s overlays add to a service's Deployment: JSON patch `add`
 * operations (RFC 6902) appending to lists of its pod template, such as the first container's env.
 */

export interface KustomizePatch {
  target: { kind: string; name: string };
  patch: string;
}

/** One patch of the Deployment named `deployment` appending each value at its path. */
export function deploymentAdds(deployment: string, adds: { path: string; value: unknown }[]): KustomizePatch {
  const ops = adds.map((op) =>
    ['- op: add', `  path: ${op.path}`, `  value: ${JSON.stringify(op.value)}`].join('\n'),
  );
  return { target: { kind: 'Deployment', name: deployment }, patch: ops.join('\n') };
}

/** Appends these variables to the Deployment's first container; undefined when there are none. */
export function envVarsPatch(deployment: string, vars: Record<string, string>): KustomizePatch | undefined {
  const adds = Object.entries(vars).map(([name, value]) => ({
    path: '/spec/template/spec/containers/0/env/-',
    value: { name, value },
  }));
  return adds.length ? deploymentAdds(deployment, adds) : undefined;
}
