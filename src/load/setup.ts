/**
 * Before the load starts: obtain a token from the auth service (signup, then login) and run the
 * scenario's setup requests, capturing values (e.g. ids of uploaded content) into data lists.
 */
import { randomUUID } from 'node:crypto';
import { PlatformError } from '../core/errors.ts';
import { compileRequest } from './request-plan.ts';
import type { Scenario } from './scenario.ts';
import { jsonPathGet, type TemplateContext } from './template.ts';

export interface Credentials {
  email: string;
  password: string;
}

/** Signs up (an existing account is fine) and logs in; returns the access token. */
export async function obtainToken(
  target: string,
  auth: NonNullable<Scenario['auth']>,
): Promise<{ token: string; email: string }> {
  const creds: Credentials = {
    email: auth.email ?? `load-${randomUUID().slice(0, 8)}@example.test`,
    password: auth.password ?? `Load-${randomUUID()}`,
  };
  const { request } = await import('undici');
  const post = async (path: string) => {
    try {
      const res = await request(new URL(path, target), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(creds),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const text = await res.body.text();
      return { status: res.statusCode, text };
    } catch (err) {
      throw new PlatformError(
        'LOAD_AUTH_UNREACHABLE',
        `cannot reach the auth service at ${target}${path}: ${(err as Error).message}`,
        {
          hint: 'start the platform (platformctl up) or pass --target',
          cause: err,
        },
      );
    }
  };
  if (auth.signup) {
    const res = await post('/auth/signup');
    if (res.status >= 400 && res.status !== 409) {
      throw new PlatformError(
        'LOAD_AUTH_FAILED',
        `signup failed with HTTP ${res.status}: ${res.text.slice(0, 200)}`,
        {
          hint: 'check the auth section of the scenario (email/password rules) or set signup: false',
        },
      );
    }
  }
  const res = await post('/auth/login');
  let token: unknown;
  try {
    token = (JSON.parse(res.text) as { accessToken?: unknown }).accessToken;
  } catch {
    token = undefined;
  }
  if (res.status !== 200 || typeof token !== 'string') {
    throw new PlatformError(
      'LOAD_AUTH_FAILED',
      `login failed with HTTP ${res.status}: ${res.text.slice(0, 200)}`,
      {
        hint: 'check the credentials in the scenario auth section',
      },
    );
  }
  return { token, email: creds.email };
}

/** Runs setup requests in order; returns the data lists extended with captured values. */
export async function runSetup(
  scenario: Scenario,
  target: string,
  token: string | undefined,
  env: Record<string, string | undefined>,
): Promise<Record<string, (string | number | boolean)[]>> {
  const { request } = await import('undici');
  const data: Record<string, (string | number | boolean)[]> = structuredClone(scenario.data);
  const input = { headers: scenario.headers, token, timeoutMs: scenario.timeoutMs };
  for (const [i, spec] of scenario.setup.entries()) {
    const compiled = compileRequest({ ...spec, weight: 1 }, i, input, true);
    for (let n = 0; n < spec.repeat; n++) {
      const ctx: TemplateContext = { vu: 0, iter: n, data, env };
      const opts = compiled.options(ctx);
      let status: number;
      let text: string;
      try {
        const res = await request(new URL(opts.path, target), {
          method: opts.method as 'GET',
          headers: opts.headers,
          ...(opts.body !== undefined ? { body: opts.body } : {}),
          headersTimeout: scenario.timeoutMs,
          bodyTimeout: scenario.timeoutMs,
        });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        throw new PlatformError(
          'LOAD_SETUP_FAILED',
          `setup request "${spec.name}" failed: ${(err as Error).message}`,
          {
            hint: `check that ${target} is up, or pass --target`,
            cause: err,
          },
        );
      }
      const ok = spec.expect ? spec.expect.includes(status) : status >= 200 && status < 400;
      if (!ok) {
        throw new PlatformError(
          'LOAD_SETUP_FAILED',
          `setup request "${spec.name}" got HTTP ${status}: ${text.slice(0, 200)}`,
          {
            hint: 'fix the setup request in the scenario, or check the service logs',
          },
        );
      }
      if (Object.keys(spec.capture).length > 0) {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        for (const [list, path] of Object.entries(spec.capture)) {
          const value = jsonPathGet(body, path);
          if (value === undefined || (typeof value === 'object' && value !== null)) {
            throw new PlatformError(
              'LOAD_SETUP_FAILED',
              `setup request "${spec.name}": no value at "${path}" in the response`,
              {
                hint: 'point capture at a string or number field of the JSON response',
              },
            );
          }
          const items = data[list] ?? [];
          items.push(value as string | number | boolean);
          data[list] = items;
        }
      }
    }
  }
  return data;
}
