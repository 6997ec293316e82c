/** Starts the real analytics service as a child process on 127.0.0.1:0 (for integration tests). */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');

export interface Started {
  proc: ChildProcess;
  base: string;
  exited: Promise<number | null>;
  stderr: () => string;
}

export async function startAnalytics(env: Record<string, string>): Promise<Started> {
  const proc = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => {
    err += String(d);
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += String(d);
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line) resolve(JSON.parse(line).port as number);
    });
    proc.stdout!.on('data', (d) => {
      if (String(d).includes('"level":"error"')) process.stderr.write(String(d));
    });
    void exited.then((code) => reject(new Error(`analytics exited ${code} before listening: ${err}`)));
  });
  return { proc, base: `http://127.0.0.1:${port}`, exited, stderr: () => err };
}

/** The headers the gateway sets for a server-side producer's service token (any user, any type). */
export const PRODUCER = {
  'x-user-id': 'svc_test-producer',
  'x-user-role': 'viewer',
  'x-user-scope': 'analytics:write',
};

export async function postEvents(
  base: string,
  body: unknown,
  caller: Record<string, string> = PRODUCER,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}/analytics/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...caller },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

export async function getJson<T>(base: string, path: string): Promise<T> {
  const res = await fetch(`${base}${path}`);
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 1500; i++) {
    last = await fn();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(last)}`);
}

export function view(id: string, contentId: string, userId?: string, ts = Date.now()) {
  return { id, type: 'view', contentId, ...(userId ? { userId } : {}), ts };
}
