/**
 * Service templates under `templates/service/<name>/`: a `template.json` (name, version, optional
 * parent to extend, optional paths gated by an answer) and files ending in `.tmpl`. Placeholders are
 * `{{answer}}` with no spaces, so GitHub (`${{ x }}`) and Helm (`{{ .Values }}`) expressions pass
 * through untouched.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PlatformError } from '../core/errors.ts';

export const TEMPLATES_DIR = join(import.meta.dirname, '..', '..', 'templates', 'service');

export interface TemplateManifest {
  name: string;
  version: number;
  description: string;
  extends?: string;
  /** Path prefix -> the boolean answer that must be true for those files to be generated. */
  optional?: Record<string, string>;
}

export interface LoadedTemplate {
  manifest: TemplateManifest;
  /** Relative output path (before name substitution) -> template text; parents first, overridden by children. */
  files: Map<string, string>;
}

/** Names of the templates that ship with platformctl. */
export function templateNames(dir = TEMPLATES_DIR): string[] {
  return readdirSync(dir).filter((d) => existsSync(join(dir, d, 'template.json')));
}

export function loadTemplate(name: string, dir = TEMPLATES_DIR): LoadedTemplate {
  const root = join(dir, name);
  if (!existsSync(join(root, 'template.json'))) {
    throw new PlatformError('TEMPLATE_UNKNOWN', `no template named "${name}"`, {
      hint: `use one of: ${templateNames(dir).join(', ')}`,
    });
  }
  const manifest = JSON.parse(readFileSync(join(root, 'template.json'), 'utf8')) as TemplateManifest;
  const files = manifest.extends ? loadTemplate(manifest.extends, dir).files : new Map<string, string>();
  for (const file of walk(root)) {
    const rel = relative(root, file);
    if (rel.endsWith('.tmpl')) files.set(rel.slice(0, -'.tmpl'.length), readFileSync(file, 'utf8'));
  }
  return { manifest, files };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

export type Answers = Record<string, string | number | boolean>;

const PLACEHOLDER = /\{\{([A-Za-z][A-Za-z0-9]*)\}\}/g;

/**
 * Renders the template's files for these answers (those under `under`, when given, so a caller
 * needing part of a template answers only that part's placeholders); unknown placeholders are
 * template bugs.
 */
export function renderTemplate(template: LoadedTemplate, answers: Answers, under = ''): Map<string, string> {
  const out = new Map<string, string>();
  const fill = (text: string, where: string) =>
    text.replace(PLACEHOLDER, (_, key: string) => {
      if (!(key in answers)) {
        throw new PlatformError(
          'TEMPLATE_BROKEN',
          `template ${template.manifest.name}: ${where} uses unknown placeholder {{${key}}}`,
          {
            source: 'internal',
          },
        );
      }
      return String(answers[key]);
    });
  for (const [path, text] of [...template.files].sort(([a], [b]) => a.localeCompare(b))) {
    if (!path.startsWith(under)) continue;
    const gate = Object.entries(template.manifest.optional ?? {}).find(([prefix]) => path.startsWith(prefix));
    if (gate && !answers[gate[1]]) continue;
    out.set(path.replaceAll('__name__', String(answers.name)), fill(text, path));
  }
  return out;
}
