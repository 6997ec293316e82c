/**
 * A gRPC client for tests, made with @grpc/grpc-js and @grpc/proto-loader (not with the service
 * kit's own code), plus a server-reflection client that speaks the reflection protos shipped by
 * @grpc/reflection: what `grpcurl list` does, v1 or v1alpha.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Calls a method by name on a generic client (its methods are made at run time from the proto). */
type DynamicMethod = (...args: unknown[]) => unknown;

const LOADER: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
};

/** A client of `service` (fully qualified) from `proto`, on a plaintext HTTP/2 connection. */
export function grpcClient(address: string, proto: string, service: string): grpc.Client {
  const definition = protoLoader.loadSync(proto, LOADER);
  const Ctor = grpc.makeGenericClientConstructor(definition[service] as grpc.ServiceDefinition, service);
  return new Ctor(address, grpc.credentials.createInsecure());
}

/** The outcome of a unary call: the response or the error status, with both metadata. */
export interface UnaryOutcome<Res> {
  response?: Res;
  error?: grpc.ServiceError;
  headers: grpc.Metadata | undefined;
}

/** Calls a unary method and never rejects: tests look at the status they got. */
export function callUnary<Res = Record<string, unknown>>(
  client: grpc.Client,
  method: string,
  request: unknown,
  metadata: Record<string, string> = {},
  options: grpc.CallOptions = {},
): Promise<UnaryOutcome<Res>> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    const fn = (client as unknown as Record<string, DynamicMethod | undefined>)[method];
    if (!fn) throw new Error(`no method ${method} on this client`);
    const call = fn.call(client, request, md, options, (error: grpc.ServiceError | null, response: Res) =>
      resolve(error ? { error, headers } : { response, headers }),
    ) as grpc.ClientUnaryCall;
    call.on('metadata', (m: grpc.Metadata) => {
      headers = m;
    });
  });
}

/** Sends `requests` on a client-streaming method; the response or the error status. */
export function callClientStream<Res = Record<string, unknown>>(
  client: grpc.Client,
  method: string,
  requests: readonly unknown[],
  metadata: Record<string, string> = {},
): Promise<UnaryOutcome<Res>> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    const fn = (client as unknown as Record<string, DynamicMethod | undefined>)[method];
    if (!fn) throw new Error(`no method ${method} on this client`);
    const call = fn.call(client, md, (error: grpc.ServiceError | null, response: Res) =>
      resolve(error ? { error, headers } : { response, headers }),
    ) as grpc.ClientWritableStream<unknown>;
    call.on('metadata', (m: grpc.Metadata) => {
      headers = m;
    });
    for (const r of requests) call.write(r);
    call.end();
  });
}

const reflectionDir = join(
  dirname(createRequire(import.meta.url).resolve('@grpc/reflection')),
  '..',
  'proto',
);

type ReflectionReply = {
  listServicesResponse?: { service?: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto?: Buffer[] };
};

/** google.protobuf.FileDescriptorProto from the descriptor.proto proto-loader ships. */
function fileDescriptorProto(): protoLoader.MessageTypeDefinition<unknown, unknown> {
  const definition = protoLoader.loadSync('google/protobuf/descriptor.proto', LOADER);
  return definition['google.protobuf.FileDescriptorProto'] as protoLoader.MessageTypeDefinition<
    unknown,
    unknown
  >;
}

/** One reflection request and its first reply, or the error status (UNIMPLEMENTED when off). */
async function reflect(
  address: string,
  version: 'v1' | 'v1alpha',
  request: Record<string, string>,
): Promise<{ reply?: ReflectionReply; error?: grpc.ServiceError }> {
  const client = grpcClient(
    address,
    join(reflectionDir, 'grpc', 'reflection', version, 'reflection.proto'),
    `grpc.reflection.${version}.ServerReflection`,
  );
  try {
    return await new Promise((resolve) => {
      const call = (
        client as unknown as {
          ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, ReflectionReply>;
        }
      ).ServerReflectionInfo();
      call.on('data', (reply: ReflectionReply) => {
        resolve({ reply });
        call.end();
      });
      call.on('error', (error: grpc.ServiceError) => resolve({ error }));
      call.write(request);
    });
  } finally {
    client.close();
  }
}

/**
 * The services a server lists over reflection (`grpcurl list`), or the error status when it
 * serves no reflection (UNIMPLEMENTED).
 */
export async function reflectionServices(
  address: string,
  version: 'v1' | 'v1alpha',
): Promise<{ services?: string[]; error?: grpc.ServiceError }> {
  const { reply, error } = await reflect(address, version, { listServices: '*' });
  if (error) return { error };
  return { services: (reply?.listServicesResponse?.service ?? []).map((s) => s.name).sort() };
}

/**
 * The fields of each message in the file that defines `symbol`, as the server's reflection
 * describes them (`grpcurl describe`), each as `name` or `name/jsonName` when a JSON name is set:
 * the FileDescriptorProto bytes decoded with google/protobuf/descriptor.proto, not with the code
 * that encoded them.
 */
export async function reflectionFieldNames(
  address: string,
  version: 'v1' | 'v1alpha',
  symbol: string,
): Promise<Record<string, string[]>> {
  const { reply, error } = await reflect(address, version, { fileContainingSymbol: symbol });
  if (error) throw error;
  const out: Record<string, string[]> = {};
  for (const bytes of reply?.fileDescriptorResponse?.fileDescriptorProto ?? []) {
    const file = fileDescriptorProto().deserialize(bytes) as {
      messageType?: { name: string; field?: { name: string; jsonName?: string }[] }[];
    };
    for (const m of file.messageType ?? [])
      out[m.name] = (m.field ?? []).map((f) => (f.jsonName ? `${f.name}/${f.jsonName}` : f.name));
  }
  return out;
}
