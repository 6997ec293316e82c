/**
 * `platformctl gitops promote`: bumps a service's image tag in an environment's overlay and opens a
 * pull request, entirely through the GitHub API (no local clone): read the base branch head, read
 * the overlay, create a branch, commit the new file with the contents API, open the PR. The merge is
 * the approval; Argo CD or Flux then syncs it.
 */
import type { Octokit } from '@octokit/rest';
import { PlatformError } from '../core/errors.ts';
import type { Repo } from '../providers/github.ts';
import { overlayPath, pinnedTag, setPinnedTag } from './render.ts';

export interface PromoteOptions {
  service: string;
  /** The environment promoted to, e.g. `prod`. */
  to: string;
  /** The environment whose tag is promoted when no tag is given (default `staging`). */
  from?: string;
  imageTag?: string;
  /** The GitOps directory inside the repository (default `gitops`). */
  repoPath: string;
  base: string;
}

export interface PromoteResult {
  service: string;
  environment: string;
  file: string;
  from: string | undefined;
  to: string;
  branch?: string;
  commit?: string;
  pullRequest?: { number: number; url: string };
  /** The overlay already pinned this tag: nothing was changed. */
  unchanged: boolean;
}

function status(err: unknown): number | undefined {
  return (err as { status?: number })?.status;
}

async function readFile(octokit: Octokit, repo: Repo, path: string, ref: string) {
  try {
    const { data } = await octokit.rest.repos.getContent({ ...repo, path, ref });
    if (Array.isArray(data) || data.type !== 'file' || !('content' in data)) {
      throw new PlatformError('GITOPS_NOT_A_FILE', `${path} in ${repo.owner}/${repo.repo} is not a file`);
    }
    return { text: Buffer.from(data.content, 'base64').toString('utf8'), sha: data.sha };
  } catch (err) {
    if (status(err) === 404) {
      throw new PlatformError(
        'GITOPS_FILE_MISSING',
        `${path} does not exist on ${ref} in ${repo.owner}/${repo.repo}`,
        {
          hint: 'render and commit the GitOps directory first: platformctl gitops render --env <env>',
        },
      );
    }
    throw err;
  }
}

export async function promote(octokit: Octokit, repo: Repo, opts: PromoteOptions): Promise<PromoteResult> {
  const file = [opts.repoPath, overlayPath(opts.service, opts.to)].filter(Boolean).join('/');
  const { data: head } = await octokit.rest.git.getRef({ ...repo, ref: `heads/${opts.base}` });
  const baseSha = head.object.sha;
  let tag = opts.imageTag;
  if (!tag) {
    const from = opts.from ?? 'staging';
    const source = await readFile(
      octokit,
      repo,
      [opts.repoPath, overlayPath(opts.service, from)].filter(Boolean).join('/'),
      baseSha,
    );
    tag = pinnedTag(source.text);
    if (!tag) {
      throw new PlatformError('GITOPS_NO_TAG', `the ${from} overlay of ${opts.service} pins no image tag`, {
        hint: 'pass --image-tag <tag>',
      });
    }
  }
  const current = await readFile(octokit, repo, file, baseSha);
  const before = pinnedTag(current.text);
  const result: PromoteResult = {
    service: opts.service,
    environment: opts.to,
    file,
    from: before,
    to: tag,
    unchanged: before === tag,
  };
  if (result.unchanged) return result;

  const branch = `platformctl/promote-${opts.service}-${opts.to}-${tag}`.replace(/[^A-Za-z0-9._/-]+/g, '-');
  try {
    await octokit.rest.git.createRef({ ...repo, ref: `refs/heads/${branch}`, sha: baseSha });
  } catch (err) {
    if (status(err) === 422) {
      throw new PlatformError(
        'GITOPS_BRANCH_EXISTS',
        `branch ${branch} already exists in ${repo.owner}/${repo.repo}`,
        {
          hint: 'a promotion of this tag is already open: merge or close its pull request, and delete the branch',
        },
      );
    }
    throw err;
  }
  const message = `promote ${opts.service} to ${tag} in ${opts.to}`;
  const { data: commit } = await octokit.rest.repos.createOrUpdateFileContents({
    ...repo,
    path: file,
    message,
    content: Buffer.from(setPinnedTag(current.text, tag)).toString('base64'),
    sha: current.sha,
    branch,
  });
  const { data: pr } = await octokit.rest.pulls.create({
    ...repo,
    title: message,
    head: branch,
    base: opts.base,
    body: [
      `Promotes **${opts.service}** in **${opts.to}** from \`${before ?? 'none'}\` to \`${tag}\`.`,
      '',
      `Changes \`images[0].newTag\` in \`${file}\`. Argo CD / Flux syncs it once merged.`,
      '',
      '_Opened by `platformctl gitops promote`._',
    ].join('\n'),
  });
  return {
    ...result,
    branch,
    ...(commit.commit.sha ? { commit: commit.commit.sha } : {}),
    pullRequest: { number: pr.number, url: pr.html_url },
  };
}
