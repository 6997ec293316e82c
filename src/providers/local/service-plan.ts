/** What `up` hands the supervisor: the services to run, each with its release, ports and routes. */

/** What `up` asks the supervisor to run for one service. */
export interface ServicePlan {
  name: string;
  kind: 'gateway' | 'service' | 'worker';
  version: string;
  /** Absolute path of the release bundle. */
  entry: string;
  replicas: number;
  basePort: number;
  routes: string[];
  /** Largest request body the gateway lets through to this service's routes (its default when unset). */
  maxBodyBytes?: number;
  dependsOn: string[];
  readiness: string;
  env: Record<string, string>;
}

export interface Plan {
  /** Every service of platform.yaml in start order (the ones to run and the ones only configured). */
  services: ServicePlan[];
  /** Names to run now (with their dependencies already included). */
  run: string[];
}
