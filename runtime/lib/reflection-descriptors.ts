/**
 * The descriptors server reflection serves (the services' and the gateway's): field names as the
 * .proto writes them (`token_role`), so `grpcurl describe` and code generated from reflection match
 * the files on disk, with the JSON names protoc gives them (`tokenRole`), so grpcurl's JSON stays
 * proto3's canonical form and matches the REST JSON. Handlers and clients keep PROTO_LOADER_OPTIONS
 * (camelCase, as the hand-written TS types); the wire carries field numbers, not names.
 *
 * proto-loader with keepCase:true writes each field's json_name as its proto name, so the
 * descriptors are re-encoded with json_name computed as protoc does.
 */
import * as protoLoader from '@grpc/proto-loader';

type FieldProto = { name?: string; jsonName?: string };
type MessageProto = { field?: FieldProto[]; extension?: FieldProto[]; nestedType?: MessageProto[] };
type FileProto = { messageType?: MessageProto[]; extension?: FieldProto[] };

/** protoc's ToJsonName: underscores dropped, the letter after one upper-cased. */
export function protoJsonName(name: string): string {
  let out = '';
  let upper = false;
  for (const c of name) {
    if (c === '_') upper = true;
    else {
      out += upper ? c.toUpperCase() : c;
      upper = false;
    }
  }
  return out;
}

function fixJsonNames(message: MessageProto): void {
  for (const f of [...(message.field ?? []), ...(message.extension ?? [])])
    if (f.name) f.jsonName = protoJsonName(f.name);
  for (const nested of message.nestedType ?? []) fixJsonNames(nested);
}

/** Loads `files` for reflection: names as written, JSON names as protoc computes them. */
export function reflectionDefinition(
  files: readonly string[],
  options: protoLoader.Options = {},
): protoLoader.PackageDefinition {
  const definition = protoLoader.loadSync([...files], { ...options, keepCase: true });
  const codec = protoLoader.loadSync('google/protobuf/descriptor.proto', {
    keepCase: false,
    defaults: false,
  })['google.protobuf.FileDescriptorProto'] as protoLoader.MessageTypeDefinition<FileProto, FileProto>;
  const recoded = new Map<Buffer, Buffer>();
  const recode = (bytes: Buffer): Buffer => {
    let out = recoded.get(bytes);
    if (!out) {
      const file = codec.deserialize(bytes);
      for (const m of file.messageType ?? []) fixJsonNames(m);
      for (const f of file.extension ?? []) if (f.name) f.jsonName = protoJsonName(f.name);
      out = codec.serialize(file);
      recoded.set(bytes, out);
    }
    return out;
  };
  for (const entry of Object.values(definition)) {
    const protos = (entry as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    if (Array.isArray(protos))
      (entry as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos = protos.map(recode);
  }
  return definition;
}
