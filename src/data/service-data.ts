/**
 * What each service stores and exchanges: the built-in runtime services from what their code does
 * (see DESIGN.md), a service you add a database only, since platform.yaml does not say more. The
 * architecture doc draws it; `gitops render` gives each service the backends it opens.
 */

export interface ServiceData {
  db: boolean;
  blobs?: boolean;
  publishes?: string[];
  consumes?: string[];
}

const BUILTIN_DATA: Record<string, ServiceData> = {
  gateway: { db: false },
  auth: { db: true },
  content: { db: true, blobs: true, publishes: ['content.uploaded', 'content.viewed'] },
  analytics: { db: true, consumes: ['content.*'] },
};

/** The data a service of `path` (`builtin:<name>` or your own directory) keeps. */
export function dataOf(path: string): ServiceData {
  const builtin = path.startsWith('builtin:') ? BUILTIN_DATA[path.slice('builtin:'.length)] : undefined;
  return builtin ?? { db: true };
}

/** The backends a service opens (`database`, `bus`, `blobs`). */
export function backendsUsed(path: string): ('database' | 'bus' | 'blobs')[] {
  const d = dataOf(path);
  return [
    ...(d.db ? (['database'] as const) : []),
    ...(d.publishes?.length || d.consumes?.length ? (['bus'] as const) : []),
    ...(d.blobs ? (['blobs'] as const) : []),
  ];
}
