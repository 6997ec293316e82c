/**
 * Changes the admin API makes to a gateway's live state, as data: applied locally and, in
 * cluster mode (GATEWAY_WORKERS > 1), sent to every other worker so they all route alike.
 */
import type { Fault } from '../../contract/gateway-admin.ts';
import type { InstanceSpec, RouteSpec, TrafficSpec } from '../../contract/gateway-config.ts';
import type { StatsDump } from './stats-window.ts';

export type ControlOp =
  | { op: 'routes'; routes: RouteSpec[] }
  | { op: 'instances'; service: string; instances: InstanceSpec[] }
  | { op: 'traffic'; service: string; traffic: TrafficSpec }
  | { op: 'fault-add'; fault: Fault }
  | { op: 'fault-remove'; id: string }
  | { op: 'faults-clear' };

/** The other workers of a clustered gateway, as seen from one worker. */
export interface ClusterPeers {
  workers: number;
  worker: number;
  broadcast(op: ControlOp): void;
  /** Stats windows of the other workers. */
  statsDumps(windowMs: number, service: string | undefined): Promise<StatsDump[]>;
  /** Prometheus text aggregated over every worker. */
  metrics(): Promise<string>;
}
