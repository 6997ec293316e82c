import { spawn } from 'node:child_process';
import type { CommandContext } from '../core/context.ts';
import { UsageError } from '../core/errors.ts';
import { startDashboard } from '../observability/dashboard/server.ts';
import { openProvider } from '../providers/provider.ts';

interface DashboardFlags {
  port?: string;
  open?: boolean;
  env?: string;
}

/** Serves until Ctrl-C (or SIGTERM). */
export async function dashboard(ctx: CommandContext, _args: string[], opts: DashboardFlags) {
  const port = Number(opts.port ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`invalid --port "${opts.port}"`, 'a port number, or 0 for any free port');
  const platform = ctx.loadPlatform();
  const d = await startDashboard({ platform, provider: await openProvider(platform, opts.env), port });
  if (ctx.json) ctx.out.jsonLine({ url: d.url, loginUrl: d.loginUrl });
  else {
    ctx.out.print(d.loginUrl);
    ctx.out.info(
      `dashboard on ${d.url} — the link above carries the admin token once, then a cookie; Ctrl-C to stop`,
    );
  }
  if (opts.open) {
    const opener =
      process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
    const child = spawn(opener, [d.loginUrl], { stdio: 'ignore', detached: true });
    child.on('error', () => ctx.out.warn(`could not run ${opener}; open the URL yourself`));
    child.unref();
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await d.close();
}
