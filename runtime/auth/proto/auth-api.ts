/**
 * The TypeScript side of auth.proto, written by hand because the proto is loaded at run time
 * (@grpc/proto-loader with runtime/lib's options: camelCase fields, enums as names, unset fields
 * absent). Auth serves it and content calls it, so both import the names and types from here;
 * runtime/auth/test/auth-api.test.ts checks them against the proto.
 */
import { serviceProto } from '../../lib/service-proto.ts';

/**
 * The proto file, for the server (auth) and its clients: beside this module in the sources, in
 * `proto/` beside a release bundle or image entry (of auth, and of every service that calls it).
 */
export const authProto = (): string => serviceProto(import.meta.dirname, 'auth.proto');
/** The gRPC service's full name. */
export const AUTH_SERVICE = 'platform.auth.v1.Auth';

/** The platform's roles and their proto enum names. */
export const PROTO_ROLES = { admin: 'ROLE_ADMIN', editor: 'ROLE_EDITOR', viewer: 'ROLE_VIEWER' } as const;
export type PlatformRole = keyof typeof PROTO_ROLES;
export type ProtoRole = (typeof PROTO_ROLES)[PlatformRole] | 'ROLE_UNSPECIFIED';

export const PROTO_KINDS = { user: 'KIND_USER', serviceClient: 'KIND_SERVICE_CLIENT' } as const;
export type ProtoKind = (typeof PROTO_KINDS)[keyof typeof PROTO_KINDS] | 'KIND_UNSPECIFIED';

/** `GetPrincipal`'s request: the principal is the bearer token's, from the call's metadata. */
export type GetPrincipalRequest = Record<string, never>;

/** `GetPrincipal`'s answer (a field left unset by the sender is absent). */
export interface PrincipalMessage {
  subject?: string;
  role?: ProtoRole;
  kind?: ProtoKind;
  tokenRole?: ProtoRole;
}

/** The platform role a proto role names; undefined for ROLE_UNSPECIFIED or an unknown name. */
export function platformRole(role: string | undefined): PlatformRole | undefined {
  for (const [platform, proto] of Object.entries(PROTO_ROLES))
    if (proto === role) return platform as PlatformRole;
  return undefined;
}
