import type { CommandContext } from '../core/context.ts';
import {
  type CheckResult,
  checkDisk,
  checkGithubToken,
  checkKubectl,
  checkNode,
  checkPorts,
  checkTerraform,
} from '../core/doctor-checks.ts';
import { ConfigError, ExitCode, PlatformError } from '../core/errors.ts';

export async function doctor(ctx: CommandContext) {
  const checks: CheckResult[] = [checkNode(), checkDisk(ctx.cwd), checkGithubToken(ctx.env)];
  const [terraform, kubectl] = await Promise.all([checkTerraform(), checkKubectl()]);
  checks.push(terraform, ...kubectl);
  try {
    const { config, file } = ctx.loadPlatform();
    checks.push({ name: 'platform.yaml', status: 'ok', required: true, detail: file });
    checks.push(...(await checkPorts(config, new Set())));
  } catch (err) {
    if (err instanceof ConfigError) {
      checks.push({
        name: 'platform.yaml',
        status: 'fail',
        required: true,
        detail: err.message,
        fix: 'run `platformctl config validate` for every problem',
      });
    } else if (err instanceof PlatformError && err.code === 'CONFIG_NOT_FOUND') {
      checks.push({
        name: 'platform.yaml',
        status: 'warn',
        required: false,
        detail: 'not found',
        fix: 'run `platformctl init`',
      });
    } else throw err;
  }
  const failed = checks.filter((c) => c.required && c.status === 'fail');
  ctx.out.result({ ok: failed.length === 0, checks }, () => {
    const mark = {
      ok: ctx.out.style.green('ok'),
      warn: ctx.out.style.yellow('warn'),
      fail: ctx.out.style.red('FAIL'),
    };
    return ctx.out.table(
      ['CHECK', 'STATUS', 'DETAIL', 'FIX'],
      checks.map((c) => [c.name, mark[c.status], c.detail, c.fix ?? '']),
    );
  });
  return failed.length > 0 ? ExitCode.failure : ExitCode.ok;
}
