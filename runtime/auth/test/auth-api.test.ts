/**
 * The hand-written TypeScript side of auth.proto (proto/auth-api.ts) against the proto itself, as
 * @grpc/proto-loader reads it with the platform's options: a field or enum value renamed, added or
 * dropped on one side only fails here instead of between two running services.
 */
import { describe, expect, it } from 'vitest';
import { loadProtos } from '../../lib/grpc-server.ts';
import { AUTH_SERVICE, authProto, PROTO_KINDS, PROTO_ROLES, platformRole } from '../proto/auth-api.ts';
import { ROLES } from '../src/auth-service.ts';

interface Descriptor {
  type: { field?: { name: string; typeName: string }[]; value?: { name: string }[] };
}
const definition = loadProtos([authProto()]) as unknown as Record<
  string,
  Descriptor & Record<string, unknown>
>;
const pkg = AUTH_SERVICE.slice(0, AUTH_SERVICE.lastIndexOf('.'));
const fields = (message: string) =>
  definition[`${pkg}.${message}`]?.type.field?.map((f) => [f.name, f.typeName]);
const values = (enumName: string) => definition[`${pkg}.${enumName}`]?.type.value?.map((v) => v.name);

describe('auth.proto and auth-api.ts', () => {
  it('serves GetPrincipal at the path the gateway routes to the auth service', () => {
    const service = definition[AUTH_SERVICE] as unknown as Record<
      string,
      { path: string; requestStream: boolean }
    >;
    expect(Object.keys(service)).toEqual(['GetPrincipal']);
    expect(service.GetPrincipal).toMatchObject({
      path: '/platform.auth.v1.Auth/GetPrincipal',
      requestStream: false,
    });
  });

  it('has the messages the TypeScript types describe (camelCase, as the loader gives them)', () => {
    expect(fields('GetPrincipalRequest')).toEqual([]);
    // PrincipalMessage: subject, role, kind, tokenRole.
    expect(fields('Principal')).toEqual([
      ['subject', ''],
      ['role', 'Role'],
      ['kind', 'Kind'],
      ['tokenRole', 'Role'],
    ]);
  });

  it('has one proto role per platform role, and the kinds', () => {
    expect(Object.keys(PROTO_ROLES).sort()).toEqual([...ROLES].sort());
    expect(values('Role')).toEqual(['ROLE_UNSPECIFIED', ...Object.values(PROTO_ROLES)]);
    expect(values('Kind')).toEqual(['KIND_UNSPECIFIED', ...Object.values(PROTO_KINDS)]);
    for (const role of ROLES) expect(platformRole(PROTO_ROLES[role])).toBe(role);
    expect(platformRole('ROLE_UNSPECIFIED')).toBeUndefined();
    expect(platformRole(undefined)).toBeUndefined();
  });
});
