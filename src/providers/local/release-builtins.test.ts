import { describe, expect, it } from 'vitest';
import { bindBuiltins, RELEASE_BANNER } from './release-builtins.ts';

describe('builtins without ES-module facades in a release bundle', () => {
  it('binds every import form esbuild writes for a builtin at the top, after the banner', () => {
    const code = [
      RELEASE_BANNER,
      'import { randomUUID } from "node:crypto";',
      'import {',
      '  readFileSync,',
      '  writeFileSync as write2',
      '} from "node:fs";',
      'import * as zlib from "node:zlib";',
      'import events, { once } from "node:events";',
      'import path from "path";',
      'import Database from "better-sqlite3";',
      'import { helper } from "./chunks/chunk-A.mjs";',
      'import "./chunks/chunk-B.mjs";',
      'console.log(randomUUID(), readFileSync, write2, zlib, events, once, path, Database, helper);',
      '',
    ].join('\n');
    expect(bindBuiltins(code)).toBe(
      [
        RELEASE_BANNER,
        'const { randomUUID } = process.getBuiltinModule("node:crypto");',
        'const { readFileSync, writeFileSync: write2 } = process.getBuiltinModule("node:fs");',
        'const zlib = process.getBuiltinModule("node:zlib");',
        'const events = process.getBuiltinModule("node:events");',
        'const { once } = process.getBuiltinModule("node:events");',
        'const path = process.getBuiltinModule("path");',
        'import Database from "better-sqlite3";',
        'import { helper } from "./chunks/chunk-A.mjs";',
        'import "./chunks/chunk-B.mjs";',
        'console.log(randomUUID(), readFileSync, write2, zlib, events, once, path, Database, helper);',
        '',
      ].join('\n'),
    );
  });

  it('leaves a file without builtin imports as it is', () => {
    const code = `${RELEASE_BANNER}\nimport { a } from "./chunk.mjs";\nexport { a };\n`;
    expect(bindBuiltins(code)).toBe(code);
  });
});
