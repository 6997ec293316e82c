/**
 * The analytics event model and its validation at the edge. Hand-written rather than zod because
 * it runs for every event on the ingest hot path (100k+/s); the rules are few and explicit, and
 * errors name the offending event index and field.
 */

/**
 * A validated event in the compact form stored in the ingest log: [id, type, contentId, userId,
 * ts] and, when the producer knows it, the viewer's country (ISO 3166-1 alpha-2) for the lake.
 */
export type StoredEvent = [
  id: string,
  type: string,
  contentId: string,
  userId: string | null,
  ts: number,
  country?: string,
];

export const MAX_BATCH = 1000;
const ID = /^[\x21-\x7e]{1,128}$/;
const TYPE = /^[a-z][a-z0-9_.-]{0,31}$/;
const COUNTRY = /^[A-Z]{2}$/;
/** Events older than this or in the future beyond the skew are rejected (they would corrupt rollups). */
const MAX_AGE_MS = 400 * 86_400_000;
const MAX_SKEW_MS = 5 * 60_000;

export interface EventProblem {
  index: number;
  field: string;
  message: string;
}

export class EventValidationError extends Error {
  readonly problems: EventProblem[];
  constructor(message: string, problems: EventProblem[] = []) {
    super(message);
    this.name = 'EventValidationError';
    this.problems = problems;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseTs(value: unknown, now: number): number | string {
  if (value === undefined || value === null) return now;
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string' && value.length <= 40) ms = Date.parse(value);
  else return 'must be epoch milliseconds or an ISO-8601 string';
  if (!Number.isFinite(ms)) return 'is not a valid time';
  if (ms < now - MAX_AGE_MS || ms > now + MAX_SKEW_MS) return 'is too far in the past or the future';
  return Math.floor(ms);
}

/** Validates one event object; pushes problems and returns undefined when invalid. */
export function toStoredEvent(
  raw: unknown,
  index: number,
  now: number,
  problems: EventProblem[],
): StoredEvent | undefined {
  if (!isRecord(raw)) {
    problems.push({ index, field: '(event)', message: 'must be an object' });
    return undefined;
  }
  const { id, type, contentId, userId, ts, country } = raw;
  const before = problems.length;
  if (typeof id !== 'string' || !ID.test(id)) {
    problems.push({ index, field: 'id', message: 'must be 1-128 printable ASCII characters' });
  }
  if (typeof type !== 'string' || !TYPE.test(type)) {
    problems.push({ index, field: 'type', message: 'must be a lowercase name like "view"' });
  }
  if (typeof contentId !== 'string' || !ID.test(contentId)) {
    problems.push({ index, field: 'contentId', message: 'must be 1-128 printable ASCII characters' });
  }
  if (userId !== undefined && userId !== null && (typeof userId !== 'string' || !ID.test(userId))) {
    problems.push({
      index,
      field: 'userId',
      message: 'must be 1-128 printable ASCII characters when present',
    });
  }
  if (country !== undefined && country !== null && (typeof country !== 'string' || !COUNTRY.test(country))) {
    problems.push({
      index,
      field: 'country',
      message: 'must be an ISO 3166-1 alpha-2 code like "DE" when present',
    });
  }
  const time = parseTs(ts, now);
  if (typeof time === 'string') problems.push({ index, field: 'ts', message: time });
  if (problems.length > before) return undefined;
  const stored: StoredEvent = [
    id as string,
    type as string,
    contentId as string,
    (userId as string | undefined) ?? null,
    time as number,
  ];
  if (typeof country === 'string') stored.push(country);
  return stored;
}

/**
 * Accepts a single event or `{ events: [...] }` (1..MAX_BATCH). Throws `EventValidationError`
 * listing up to 20 problems; a batch is all-or-nothing.
 */
export function parseEventBody(body: unknown, now = Date.now()): StoredEvent[] {
  const list = isRecord(body) && 'events' in body ? body.events : [body];
  if (!Array.isArray(list)) throw new EventValidationError('"events" must be an array');
  if (list.length === 0) throw new EventValidationError('"events" must not be empty');
  if (list.length > MAX_BATCH) throw new EventValidationError(`at most ${MAX_BATCH} events per batch`);
  const problems: EventProblem[] = [];
  const out: StoredEvent[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const e = toStoredEvent(list[i], i, now, problems);
    if (e) out[i] = e;
    if (problems.length >= 20) break;
  }
  if (problems.length > 0) throw new EventValidationError('invalid events', problems);
  return out;
}

/**
 * Maps a bus event from the content service (`content.viewed`, `content.uploaded`) to the stored
 * form; undefined for events analytics does not understand (the consumer dead-letters them).
 */
export function fromBusEvent(
  topic: string,
  event: Record<string, unknown>,
  now = Date.now(),
): StoredEvent | undefined {
  const type = topic === 'content.viewed' ? 'view' : topic === 'content.uploaded' ? 'upload' : undefined;
  if (!type) return undefined;
  const contentId = event.contentId ?? event.content_id ?? (type === 'upload' ? event.id : undefined);
  const rawUser = event.userId ?? event.user_id ?? event.viewerId ?? event.ownerId ?? null;
  // content publishes unauthenticated views as "anonymous"; they are not one shared viewer.
  const userId = rawUser === 'anonymous' ? null : rawUser;
  const ts = event.ts ?? event.at ?? event.viewedAt ?? event.uploadedAt ?? event.createdAt;
  const problems: EventProblem[] = [];
  // Bus events are trusted producers, but an out-of-range time still falls back to "now".
  const stored = toStoredEvent({ id: event.id, type, contentId, userId, ts }, 0, now, problems);
  if (stored) return stored;
  if (problems.every((p) => p.field === 'ts')) {
    return toStoredEvent({ id: event.id, type, contentId, userId }, 0, now, []);
  }
  return undefined;
}
