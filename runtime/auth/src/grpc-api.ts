/**
 * The auth service's gRPC surface (runtime/auth/proto/auth.proto), served on its one port next to
 * the REST routes by the service kit. Refusals are AuthErrors like on REST; the kit turns a 401
 * into UNAUTHENTICATED.
 */
import type { GrpcServiceSpec, GrpcUnaryHandler } from '../../lib/grpc-server.ts';
import {
  AUTH_SERVICE,
  authProto,
  type GetPrincipalRequest,
  PROTO_KINDS,
  PROTO_ROLES,
  type PrincipalMessage,
} from '../proto/auth-api.ts';
import { AuthError, type AuthService } from './auth-service.ts';

function bearer(authorization: string | string[] | undefined): string {
  if (typeof authorization !== 'string' || !/^Bearer\s+\S+$/i.test(authorization))
    throw new AuthError(401, 'INVALID_TOKEN', 'access token is missing, invalid or expired');
  return authorization.replace(/^Bearer\s+/i, '');
}

/** The `platform.auth.v1.Auth` service over an AuthService. */
export function authGrpcService(auth: AuthService): GrpcServiceSpec {
  const getPrincipal: GrpcUnaryHandler<GetPrincipalRequest, PrincipalMessage> = async (_request, ctx) => {
    const p = await auth.currentPrincipal(bearer(ctx.headers.authorization));
    return {
      subject: p.sub,
      role: PROTO_ROLES[p.role],
      kind: p.clientId === undefined ? PROTO_KINDS.user : PROTO_KINDS.serviceClient,
      tokenRole: PROTO_ROLES[p.tokenRole],
    };
  };
  return { proto: authProto(), service: AUTH_SERVICE, handlers: { GetPrincipal: getPrincipal } };
}
