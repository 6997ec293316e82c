/**
 * The analytics gRPC API (proto/analytics.proto, `platform.analytics.v1.Analytics`): each method
 * turns its message into what the REST route would have received and calls the same operation
 * (operations.ts), so both protocols validate, authorise, limit and deduplicate alike. Message
 * types below are written by hand from the proto (proto-loader: camelCase, int64 as number, unset
 * fields absent); grpc-api.test.ts checks them against the proto.
 */
import type { GrpcContext, GrpcServiceSpec } from '../../lib/grpc-server.ts';
import { serviceProto } from '../../lib/service-proto.ts';
import { callerOf } from './event-identity.ts';
import { MAX_BATCH } from './events.ts';
import type { IngestResult } from './ingest.ts';
import type { AnalyticsOperations } from './operations.ts';
import type { ContentStats, Recommendation, TrendingItem } from './queries.ts';

/** The fully-qualified gRPC service name. */
export const ANALYTICS_GRPC_SERVICE = 'platform.analytics.v1.Analytics';

/** `platform.analytics.v1.Event`. */
export interface EventMessage {
  id?: string;
  type?: string;
  contentId?: string;
  userId?: string;
  ts?: number;
  country?: string;
}
export interface IngestRequest {
  events?: EventMessage[];
}
export interface GetContentStatsRequest {
  contentId?: string;
  minutes?: number;
}
export interface GetTrendingRequest {
  window?: string;
  k?: number;
}
export interface GetRecommendationsRequest {
  contentId?: string;
  k?: number;
}
export interface GetTrendingResponse {
  window: string;
  k: number;
  items: TrendingItem[];
}
export interface GetRecommendationsResponse {
  contentId: string;
  items: Recommendation[];
}

/** proto3 cannot tell 0 from unset; for these parameters both mean "the default", as in the proto. */
const unsetIfZero = (n: number | undefined) => (n === 0 ? undefined : n);

/**
 * An event as REST's JSON would carry it: proto3 zero values ('' and 0, which some clients put on
 * the wire and others leave out) are absent keys, so `country: ""` means "unknown", not a bad code.
 */
function eventBody(event: EventMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) if (value !== '' && value !== 0) out[key] = value;
  return out;
}

/** The Analytics service for the service kit's `grpc` hook. */
export function analyticsGrpc(ops: AnalyticsOperations): GrpcServiceSpec {
  return {
    proto: serviceProto(import.meta.dirname, 'analytics.proto'),
    service: ANALYTICS_GRPC_SERVICE,
    handlers: {
      Ingest: (request: IngestRequest, ctx: GrpcContext): Promise<IngestResult> =>
        ops.ingest({ events: (request.events ?? []).map(eventBody) }, ctx.headers),

      IngestStream: async (events: AsyncIterable<EventMessage>, ctx: GrpcContext): Promise<IngestResult> => {
        // Refuse an unidentified stream before reading it, not after its first full batch.
        callerOf(ctx.headers);
        const total: IngestResult = { accepted: 0, duplicates: 0 };
        let batch: Record<string, unknown>[] = [];
        const flush = async () => {
          const r = await ops.ingest({ events: batch }, ctx.headers);
          total.accepted += r.accepted;
          total.duplicates += r.duplicates;
          batch = [];
        };
        for await (const event of events) {
          batch.push(eventBody(event));
          if (batch.length === MAX_BATCH) await flush();
        }
        if (batch.length > 0 || total.accepted + total.duplicates === 0) await flush();
        return total;
      },

      GetContentStats: (request: GetContentStatsRequest): Promise<ContentStats> =>
        ops.contentStats(request.contentId, unsetIfZero(request.minutes)),

      GetTrending: (request: GetTrendingRequest): Promise<GetTrendingResponse> =>
        ops.trending(request.window, unsetIfZero(request.k)),

      GetRecommendations: (request: GetRecommendationsRequest): Promise<GetRecommendationsResponse> =>
        ops.recommendations(request.contentId, unsetIfZero(request.k)),
    },
  };
}
