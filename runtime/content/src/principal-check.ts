/**
 * Before content lets a caller upload or delete, it asks auth over gRPC (`GetPrincipal`, with the
 * caller's own bearer token, which the gateway forwards) for the caller's role as auth's records
 * say now. The gateway's `x-user-role` is the token's claim, up to AUTH_ACCESS_TTL_SECONDS old:
 * without this check a demoted admin keeps deleting other people's content, and a revoked service
 * client keeps uploading, until the token expires.
 *
 * When auth cannot answer (down, slower than the deadline, retry budget spent, an older auth
 * without the method), content degrades to what it did before asking: it trusts the role the
 * gateway verified in the token. Availability of uploads and deletes then does not depend on
 * auth's, and the window a stale role stays usable is no longer than it was. Each degraded check
 * is counted; the log says when degrading starts and ends. A definite "no" (UNAUTHENTICATED: the
 * principal is gone or revoked) is a 401.
 */

import { type PrincipalMessage, platformRole } from '../../auth/proto/auth-api.ts';
import type { GrpcClient } from '../../lib/grpc-client.ts';
import { GrpcCallError, GrpcCode } from '../../lib/grpc-status.ts';
import { HttpError } from '../../lib/http-errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Identity } from './content-service.ts';

/**
 * What a check found: auth `confirmed` the gateway's role or `changed` it, `refused` the caller,
 * could not answer (`degraded`), or was not asked (`skipped`: no token, or no AUTH_URL).
 */
export type CheckOutcome = 'confirmed' | 'changed' | 'refused' | 'degraded' | 'skipped';

export interface PrincipalCheckOptions {
  /** The auth client (made at its first call); undefined when content was not told where auth is (no AUTH_URL). */
  auth: Pick<GrpcClient, 'unary'> | undefined;
  log: Logger;
  /** Called once per check (metrics). */
  onOutcome?(outcome: CheckOutcome): void;
}

export class PrincipalCheck {
  readonly #auth: Pick<GrpcClient, 'unary'> | undefined;
  readonly #log: Logger;
  readonly #onOutcome: (outcome: CheckOutcome) => void;
  #degraded = false;

  constructor(options: PrincipalCheckOptions) {
    this.#auth = options.auth;
    this.#log = options.log;
    this.#onOutcome = options.onOutcome ?? (() => {});
  }

  /** The caller with the role auth gives it now (or the gateway's, when auth cannot say). */
  async current(who: Identity, authorization: string | string[] | undefined): Promise<Identity> {
    if (!this.#auth || typeof authorization !== 'string' || !/^Bearer\s+\S+$/i.test(authorization)) {
      this.#onOutcome('skipped');
      return who;
    }
    let answer: PrincipalMessage;
    try {
      answer = await this.#auth.unary<PrincipalMessage>(
        'GetPrincipal',
        {},
        { metadata: { authorization }, idempotent: true },
      );
    } catch (err) {
      if (err instanceof GrpcCallError && err.code === GrpcCode.UNAUTHENTICATED) {
        this.#onOutcome('refused');
        throw new HttpError(401, 'UNAUTHENTICATED', 'the token is no longer valid; sign in again');
      }
      return this.#degrade(who, err);
    }
    const role = platformRole(answer.role);
    if (!role) return this.#degrade(who, new Error(`auth answered without a known role (${answer.role})`));
    if (answer.subject !== who.userId) {
      this.#onOutcome('refused');
      throw new HttpError(401, 'BAD_IDENTITY', 'the identity does not match the bearer token');
    }
    if (this.#degraded) {
      this.#degraded = false;
      this.#log.info('auth answers principal checks again');
    }
    this.#onOutcome(role === who.role ? 'confirmed' : 'changed');
    return { userId: who.userId, role };
  }

  #degrade(who: Identity, err: unknown): Identity {
    this.#onOutcome('degraded');
    if (!this.#degraded) {
      this.#degraded = true;
      this.#log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        "auth cannot check principals; trusting the role in the gateway's verified token until it can",
      );
    }
    return who;
  }
}
