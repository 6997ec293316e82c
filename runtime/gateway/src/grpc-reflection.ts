/**
 * gRPC server reflection answered by the gateway itself, from every runtime proto, so that
 * `grpcurl <gateway> list` shows all the platform's services (each service only knows its own).
 * The reflection service is @grpc/reflection on an in-process @grpc/grpc-js server reached over
 * an in-memory duplex pair: the proxy forwards reflection calls to it like to any upstream, and
 * no port is opened. Its modules are imported only when reflection is on.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { duplexPair } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { SessionPool } from './grpc-sessions.ts';

/** Services of the reflection protocol (both published versions; grpcurl tries v1 first). */
export const REFLECTION_SERVICES = new Set([
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
]);

/** `runtime/` of this checkout: every `runtime/<service>/proto/*.proto` is served by default. */
const RUNTIME_DIR = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The `.proto` files under `dirs` (each a directory), or under every `runtime/<service>/proto`.
 * A name seen before is skipped: a release carries the protos of the services it calls too
 * (content's has auth.proto), and loading one definition twice is an error.
 */
export function protoFiles(dirs?: readonly string[]): string[] {
  const roots =
    dirs ??
    readdirSync(RUNTIME_DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(RUNTIME_DIR, d.name, 'proto'));
  const files: string[] = [];
  const seen = new Set<string>();
  for (const dir of roots) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      if (!name.endsWith('.proto') || seen.has(name)) continue;
      seen.add(name);
      files.push(join(dir, name));
    }
  }
  return files;
}

/** The in-process reflection server and the session pool the proxy reaches it through. */
export class GatewayReflection {
  readonly pool: SessionPool;
  readonly files: readonly string[];
  readonly #stop: () => void;

  private constructor(pool: SessionPool, files: readonly string[], stop: () => void) {
    this.pool = pool;
    this.files = files;
    this.#stop = stop;
  }

  /** Loads `files` (each with its own directory as include path) and starts the reflection server. */
  static async start(files: readonly string[]): Promise<GatewayReflection> {
    const [grpc, { reflectionDefinition }, { ReflectionService }] = await Promise.all([
      import('@grpc/grpc-js'),
      import('../../lib/reflection-descriptors.ts'),
      import('@grpc/reflection'),
    ]);
    const includeDirs = [...new Set(files.map((f) => join(f, '..')))];
    const definition = reflectionDefinition(files, { includeDirs });
    const server = new grpc.Server();
    new ReflectionService(definition).addToServer(server);
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const pool = new SessionPool('http://gateway-reflection', {
      connectTimeoutMs: 5000,
      idleMs: 60_000,
      maxSessions: 1,
      createConnection: () => {
        const [ours, theirs] = duplexPair();
        injector.injectConnection(theirs);
        return ours;
      },
    });
    return new GatewayReflection(pool, files, () => {
      pool.destroy();
      injector.destroy();
      server.forceShutdown();
    });
  }

  close(): void {
    this.#stop();
  }
}
