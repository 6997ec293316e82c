/** The local provider: supervised processes on this machine (implementation in progress). */
import type { LoadedPlatform } from '../../core/config/load.ts';
import {
  type DeployOptions,
  type DownOptions,
  type FaultHandle,
  type FaultSpec,
  type LogEntry,
  type LogQuery,
  notSupported,
  type PlatformStatus,
  type Provider,
  type ReleaseRef,
  type ServiceStatus,
  type TrafficSpec,
  type UpOptions,
  type VersionMetrics,
} from '../provider.ts';

export class LocalProvider implements Provider {
  readonly name = 'local' as const;
  readonly platform: LoadedPlatform;

  constructor(platform: LoadedPlatform) {
    this.platform = platform;
  }

  up(_opts?: UpOptions): Promise<PlatformStatus> {
    throw notSupported('local', 'up');
  }
  down(_opts?: DownOptions): Promise<void> {
    throw notSupported('local', 'down');
  }
  status(): Promise<PlatformStatus> {
    throw notSupported('local', 'status');
  }
  logs(_service: string, _opts?: LogQuery): AsyncIterable<LogEntry> {
    throw notSupported('local', 'logs');
  }
  scale(_service: string, _replicas: number): Promise<ServiceStatus> {
    throw notSupported('local', 'scale');
  }
  deploy(_service: string, _release: ReleaseRef, _opts?: DeployOptions): Promise<ServiceStatus> {
    throw notSupported('local', 'deploy');
  }
  retire(_service: string, _version: string): Promise<ServiceStatus> {
    throw notSupported('local', 'retire');
  }
  setTraffic(_service: string, _traffic: TrafficSpec): Promise<void> {
    throw notSupported('local', 'setTraffic');
  }
  metrics(_service: string, _version: string, _windowMs: number): Promise<VersionMetrics> {
    throw notSupported('local', 'metrics');
  }
  kill(_instanceId: string): Promise<void> {
    throw notSupported('local', 'kill');
  }
  injectFault(_fault: FaultSpec): Promise<string> {
    throw notSupported('local', 'injectFault');
  }
  clearFaults(_id?: string): Promise<void> {
    throw notSupported('local', 'clearFaults');
  }
  partition(_dependency: string): Promise<FaultHandle> {
    throw notSupported('local', 'partition');
  }
}
