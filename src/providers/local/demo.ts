/**
 * `platformctl demo`: seeds a running platform through its public API (the gateway), exactly as a
 * user would: sign up (or log in), upload the sample media shipped in runtime/content/samples/,
 * record views, and return the commands worth trying next.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readProblem } from '../../../runtime/lib/problem.ts';
import { PlatformError } from '../../core/errors.ts';
import { sleep } from '../../core/sleep.ts';
import { packageRoot } from './releases.ts';

export interface DemoResult {
  gatewayUrl: string;
  email: string;
  password: string;
  uploads: { file: string; id: string; type?: string }[];
  views: number;
  tryNext: string[];
}

export const DEMO_PASSWORD = 'demo-password-1234';

/** How many times a request marked `resendWhenBusy` is sent again after a 503 with Retry-After. */
const BUSY_RESENDS = 5;

async function call(
  url: string,
  init: RequestInit & { expect?: number[]; resendWhenBusy?: boolean },
): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  let text: string;
  let problem: ReturnType<typeof readProblem>;
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
    } catch (err) {
      throw new PlatformError('DEMO_FAILED', `cannot reach ${url}: ${(err as Error).message}`, {
        hint: 'check `platformctl status`',
      });
    }
    text = await res.text();
    problem = readProblem(res.status, text, res.headers.get('retry-after'));
    // A service shedding load (analytics while its read models catch up) says when to come back;
    // only requests that are safe to send twice (events carry their ids) take it up on that.
    const after = problem.retryAfterS;
    const busy = res.status === 503 && after !== undefined && after >= 0;
    if (!(init.resendWhenBusy && busy && attempt < BUSY_RESENDS)) break;
    await sleep(Math.min(after, 5) * 1000);
  }
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  if (init.expect && !init.expect.includes(res.status)) {
    throw new PlatformError(
      'DEMO_FAILED',
      `${init.method ?? 'GET'} ${new URL(url).pathname} answered ${res.status} ${problem.code}: ${problem.detail}`,
      {
        hint: 'see `platformctl logs all --since 5m --level warn`',
      },
    );
  }
  return { status: res.status, body };
}

function subject(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      sub?: string;
    };
    return payload.sub;
  } catch {
    return undefined;
  }
}

export function sampleFiles(): string[] {
  const dir = join(packageRoot(), 'runtime', 'content', 'samples');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !/\.(md|ts|js|json)$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

export async function seedDemo(
  gatewayUrl: string,
  opts: { email: string; views: number; onStep?: (text: string) => void },
): Promise<DemoResult> {
  const json = { 'content-type': 'application/json' };
  opts.onStep?.(`signing up ${opts.email}`);
  await call(`${gatewayUrl}/auth/signup`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email: opts.email, password: DEMO_PASSWORD }),
    expect: [200, 201, 409],
  });
  const login = await call(`${gatewayUrl}/auth/login`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email: opts.email, password: DEMO_PASSWORD }),
    expect: [200],
  });
  const token = String(login.body.accessToken ?? '');
  const auth = { authorization: `Bearer ${token}` };
  const uploads: DemoResult['uploads'] = [];
  for (const file of sampleFiles()) {
    const name = file.split('/').pop() as string;
    opts.onStep?.(`uploading ${name}`);
    const res = await call(`${gatewayUrl}/content`, {
      method: 'POST',
      headers: { ...auth, 'x-filename': name, 'content-type': 'application/octet-stream' },
      body: readFileSync(file),
      expect: [200, 201],
    });
    uploads.push({
      file: name,
      id: String(res.body.id),
      ...(res.body.type ? { type: String(res.body.type) } : {}),
    });
  }
  const userId = subject(token);
  let views = 0;
  if (uploads.length > 0 && opts.views > 0) {
    opts.onStep?.(`recording ${opts.views} views`);
    const now = Date.now();
    const events = Array.from({ length: opts.views }, (_, i) => ({
      id: randomUUID(),
      type: 'view',
      contentId: (uploads[i % Math.max(1, Math.ceil(uploads.length / 2))] ?? uploads[0])?.id,
      ...(userId ? { userId } : {}),
      ts: new Date(now - i * 1000).toISOString(),
    }));
    const res = await call(`${gatewayUrl}/analytics/events`, {
      method: 'POST',
      headers: { ...auth, ...json },
      body: JSON.stringify({ events }),
      expect: [200, 202],
      resendWhenBusy: true,
    });
    views = Number(res.body.accepted ?? events.length);
  }
  const first = uploads[0]?.id ?? '<id>';
  const tryNext = [
    `Demo user: ${opts.email} / ${DEMO_PASSWORD}`,
    '',
    'Try next:',
    `  TOKEN=$(curl -s ${gatewayUrl}/auth/login -H 'content-type: application/json' -d '{"email":"${opts.email}","password":"${DEMO_PASSWORD}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken')`,
    `  curl -s ${gatewayUrl}/content -H "authorization: Bearer $TOKEN"`,
    `  curl -s -o thumb.webp '${gatewayUrl}/content/${first}/variant?w=200&format=webp'`,
    `  curl -s ${gatewayUrl}/analytics/content/${first}/stats -H "authorization: Bearer $TOKEN"`,
    `  curl -s '${gatewayUrl}/analytics/trending?window=1h&k=5' -H "authorization: Bearer $TOKEN"`,
    '  platformctl top                      # live RED metrics',
    '  platformctl logs all --level warn    # anything wrong?',
  ];
  return { gatewayUrl, email: opts.email, password: DEMO_PASSWORD, uploads, views, tryNext };
}
