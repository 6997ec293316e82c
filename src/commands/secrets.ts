/** Handlers of `platformctl secrets …`. Values are read from stdin/prompt/file only and never rendered unless --reveal. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { CommandContext } from '../core/context.ts';
import { ExitCode, PlatformError, UsageError } from '../core/errors.ts';
import { ensureDir } from '../core/state-dir.ts';
import type { SecretsBackend } from '../secrets/backend.ts';
import { randomValue } from '../secrets/crypto.ts';
import { EXTERNAL_STORES, type ExternalStore, renderExternalSecrets } from '../secrets/external.ts';
import { assertSecretName, injectionTarget } from '../secrets/names.ts';
import { rotateMasterKey } from '../secrets/rotate.ts';
import { assertEnv, selectBackend } from '../secrets/select.ts';

interface CommonOpts {
  env: string;
  backend?: string;
  allowProd?: boolean;
  dryRun?: boolean;
}

const MAX_VALUE_BYTES = 64 * 1024;
const MASK = '***';

function open(ctx: CommandContext, opts: CommonOpts, mutating: boolean) {
  const { config, root } = ctx.loadPlatform();
  assertEnv(config, opts.env);
  if (mutating && config.environments[opts.env]?.protected && !opts.allowProd)
    throw new PlatformError('PROTECTED_ENVIRONMENT', `"${opts.env}" is a protected environment`, {
      hint: 'pass --allow-prod to change its secrets (--yes does not unlock it)',
    });
  const backend = selectBackend(root, config, ctx.env, opts.backend);
  return { config, root, backend };
}

function notFound(name: string, env: string, backend: SecretsBackend): PlatformError {
  return new PlatformError('SECRETS_NOT_FOUND', `no secret "${name}" in ${env} (${backend.describe(env)})`, {
    hint: `list the names with \`platformctl secrets list --env ${env}\``,
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > MAX_VALUE_BYTES)
      throw new UsageError(
        `the value is larger than ${MAX_VALUE_BYTES} bytes`,
        'store large files elsewhere and keep a reference as the secret',
      );
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One trailing newline is what `echo` and editors add; it is never part of the secret. */
function chompOne(v: string): string {
  return v.endsWith('\r\n') ? v.slice(0, -2) : v.endsWith('\n') ? v.slice(0, -1) : v;
}

async function readValue(ctx: CommandContext, name: string, opts: { fromFile?: string }): Promise<string> {
  if (opts.fromFile) {
    const file = resolve(ctx.cwd, opts.fromFile);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(
        `cannot read --from-file ${opts.fromFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    if (Buffer.byteLength(text) > MAX_VALUE_BYTES)
      throw new UsageError(`${opts.fromFile} is larger than ${MAX_VALUE_BYTES} bytes`);
    return chompOne(text);
  }
  if (!process.stdin.isTTY) return chompOne(await readStdin());
  if (!ctx.interactive)
    throw new UsageError(
      'no value: stdin is a terminal and prompts are disabled',
      'pipe the value on stdin, or pass --from-file <path> or --generate (values are never accepted as flags)',
      'MISSING_FLAG',
    );
  const { password } = await import('@inquirer/prompts');
  // The prompt goes to stderr so stdout stays clean for --json.
  return password({ message: `Value for ${name} (hidden):`, mask: false }, { output: process.stderr });
}

export async function secretsSet(
  ctx: CommandContext,
  [name]: string[],
  opts: CommonOpts & { fromFile?: string; generate?: boolean; bytes: string },
) {
  assertSecretName(name as string);
  const { backend } = open(ctx, opts, true);
  const bytes = Number(opts.bytes);
  if (opts.generate && opts.fromFile) throw new UsageError('--generate and --from-file exclude each other');
  if (opts.generate && (!Number.isInteger(bytes) || bytes < 16 || bytes > 256))
    throw new UsageError('--bytes must be an integer from 16 to 256');
  if (opts.dryRun) {
    ctx.out.result(
      { dryRun: true, name, env: opts.env, backend: backend.kind },
      () => `would store ${name} in ${backend.describe(opts.env)} (dry run)`,
    );
    return;
  }
  const value = opts.generate ? randomValue(bytes) : await readValue(ctx, name as string, opts);
  if (value === '')
    throw new UsageError(
      'the value is empty',
      'pipe a non-empty value on stdin, or use --from-file / --generate',
      'SECRETS_EMPTY_VALUE',
    );
  const info = await backend.set(
    opts.env,
    name as string,
    value,
    opts.generate ? { generated: { bytes } } : {},
  );
  const target = injectionTarget(info.name);
  ctx.out.result(
    {
      name: info.name,
      env: opts.env,
      backend: backend.kind,
      version: info.version,
      generated: Boolean(opts.generate),
    },
    () => {
      const where = target
        ? target.scope === '*'
          ? `every service as ${target.variable}`
          : `${target.scope} as ${target.variable}`
        : 'no service (name does not follow <service>.<ENV_VAR>)';
      return `stored ${info.name} (version ${info.version}) in ${backend.describe(opts.env)}; injected into ${where}`;
    },
  );
}

export async function secretsGet(
  ctx: CommandContext,
  [name]: string[],
  opts: CommonOpts & { reveal?: boolean },
) {
  assertSecretName(name as string);
  const { backend } = open(ctx, opts, false);
  const secret = await backend.get(opts.env, name as string);
  if (!secret) throw notFound(name as string, opts.env, backend);
  const shown = opts.reveal ? secret.value : MASK;
  ctx.out.result(
    {
      name: secret.name,
      env: opts.env,
      version: secret.version,
      updatedAt: secret.updatedAt,
      value: shown,
      revealed: Boolean(opts.reveal),
    },
    () =>
      opts.reveal
        ? secret.value
        : `${secret.name}=${MASK}  (version ${secret.version}; pass --reveal to print the value)`,
  );
}

export async function secretsList(ctx: CommandContext, _args: string[], opts: CommonOpts) {
  const { backend, config } = open(ctx, opts, false);
  const items = await backend.list(opts.env);
  const services = Object.keys(config.services);
  const rows = items.map((s) => {
    const t = injectionTarget(s.name);
    const into = !t
      ? '-'
      : t.scope === '*'
        ? 'all'
        : services.includes(t.scope)
          ? t.scope
          : `${t.scope} (unknown service)`;
    return { ...s, injectedInto: into };
  });
  ctx.out.result({ env: opts.env, backend: backend.kind, secrets: rows }, () =>
    rows.length === 0
      ? `no secrets in ${opts.env} (${backend.describe(opts.env)})`
      : ctx.out.table(
          ['NAME', 'VERSION', 'UPDATED', 'INJECTED INTO'],
          rows.map((r) => [
            r.name,
            r.version,
            r.updatedAt ?? '-',
            r.injectedInto + (r.generated ? '  (generated)' : ''),
          ]),
        ),
  );
}

export async function secretsRm(ctx: CommandContext, [name]: string[], opts: CommonOpts) {
  assertSecretName(name as string);
  const { backend } = open(ctx, opts, true);
  if (opts.dryRun) {
    ctx.out.result(
      { dryRun: true, name, env: opts.env },
      () => `would delete ${name} from ${backend.describe(opts.env)} (dry run)`,
    );
    return;
  }
  const { confirm } = await import('../core/prompts.ts');
  if (!(await confirm(ctx, `Delete secret ${name} from ${opts.env}?`))) return ExitCode.failure;
  const removed = await backend.rm(opts.env, name as string);
  if (!removed) throw notFound(name as string, opts.env, backend);
  ctx.out.result(
    { name, env: opts.env, removed: true },
    () => `deleted ${name} from ${backend.describe(opts.env)}`,
  );
}

export async function secretsRotate(ctx: CommandContext, [name]: string[], opts: CommonOpts) {
  const { backend, root } = open(ctx, opts, name !== undefined);
  if (name === undefined) {
    if (backend.kind !== 'local')
      throw new UsageError(
        'master-key rotation applies to the local store only',
        'Vault encrypts with its own keyring: rotate it with `vault operator rotate`; or pass a generated secret name',
      );
    if (opts.dryRun) {
      ctx.out.result(
        { dryRun: true },
        () => 'would re-encrypt every local store under a new master key (dry run)',
      );
      return;
    }
    const r = rotateMasterKey(root, ctx.env);
    ctx.out.result(r, () =>
      [
        `re-encrypted ${r.secrets} secret(s) in ${r.environments.length} environment(s) under master key ${r.newKeyId} (was ${r.oldKeyId})`,
        r.keySource === 'env'
          ? 'now replace PLATFORMCTL_MASTER_KEY with the value of PLATFORMCTL_NEW_MASTER_KEY wherever it is set'
          : 'the new key is in .platform/master.key (0600); update any backup of the old one',
      ].join('\n'),
    );
    return;
  }
  assertSecretName(name);
  const current = await backend.get(opts.env, name);
  if (!current) throw notFound(name, opts.env, backend);
  if (!current.generated)
    throw new PlatformError(
      'SECRETS_NOT_GENERATED',
      `"${name}" was set by hand, so platformctl cannot make a new value`,
      {
        hint: `store the new value with \`platformctl secrets set ${name} --env ${opts.env}\``,
      },
    );
  if (opts.dryRun) {
    ctx.out.result({ dryRun: true, name }, () => `would regenerate ${name} (dry run)`);
    return;
  }
  const info = await backend.set(opts.env, name, randomValue(current.generated.bytes), {
    generated: current.generated,
  });
  ctx.out.result(
    { name, env: opts.env, version: info.version },
    () => `regenerated ${name} (version ${info.version}); restart the services that use it`,
  );
}

export async function secretsRenderExternal(
  ctx: CommandContext,
  _args: string[],
  opts: CommonOpts & {
    store: string;
    out: string;
    namesFrom?: string;
    clusterStore?: boolean;
    refresh: string;
    terraformOutputs?: string[];
  },
) {
  const { config, root } = ctx.loadPlatform();
  assertEnv(config, opts.env);
  if (!(EXTERNAL_STORES as readonly string[]).includes(opts.store))
    throw new UsageError(`unknown --store ${opts.store}`);
  const namesEnv = opts.namesFrom ?? opts.env;
  assertEnv(config, namesEnv);
  const backend = selectBackend(root, config, ctx.env, opts.backend);
  const names = (await backend.list(namesEnv)).map((s) => s.name);
  const { readStackOutputs, STACK_OUTPUTS } = await import('../stacks/outputs.ts');
  const outputs = readStackOutputs((opts.terraformOutputs ?? []).map((f) => resolve(ctx.cwd, f)));
  const manifests = renderExternalSecrets({
    workloadIdentity: outputs[STACK_OUTPUTS.workloadIdentity],
    tenantId: outputs[STACK_OUTPUTS.tenantId],
    config,
    env: opts.env,
    store: opts.store as ExternalStore,
    names,
    clusterStore: opts.clusterStore,
    refreshInterval: opts.refresh,
  });
  const skipped = Object.keys(config.services).filter((s) => !manifests.some((m) => m.service === s));
  if (opts.out === '-') {
    ctx.out.writeOut(manifests.map((m) => m.yaml).join('---\n'));
    return;
  }
  const dir = resolve(ctx.cwd, opts.out.replace('<env>', opts.env));
  ensureDir(dir);
  for (const m of manifests) writeFileSync(join(dir, m.file), m.yaml);
  const files = manifests.map((m) => relative(ctx.cwd, join(dir, m.file)));
  ctx.out.result({ env: opts.env, store: opts.store, files, servicesWithoutSecrets: skipped }, () =>
    [
      `wrote ${files.length} manifest(s) for ${opts.store}:`,
      ...files.map((f) => `  ${f}`),
      ...(names.length === 0
        ? [`note: no secrets in ${namesEnv}; only the SecretStore was rendered (use --names-from)`]
        : []),
      ...(skipped.length > 0 && names.length > 0 ? [`no secrets for: ${skipped.join(', ')}`] : []),
    ].join('\n'),
  );
}
