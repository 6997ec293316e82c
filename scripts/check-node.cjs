// The Node version gate shared by the launcher (bin/platformctl), `npm run build` and `prepare`.
// Plain CommonJS with no syntax newer than Node 12 understands, so an old Node reaches this message
// instead of dying on the TypeScript build script with ERR_UNKNOWN_FILE_EXTENSION. The range is
// package.json's `engines.node`, the one place it is written; `.npmrc`'s engine-strict makes npm
// itself refuse first, before anything is installed, and this guard covers the ways around npm
// (`--engine-strict=false`, running the launcher or the build directly).
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

/** The `engines.node` range of platformctl's package.json. */
function requiredRange() {
  return JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).engines.node;
}

/**
 * Whether `version` (e.g. "22.22.2") satisfies `range`, written as alternatives joined by `||`,
 * each `^X.Y.Z` (same major, at least X.Y.Z) or `>=X.Y.Z`: the only forms engines.node uses, so
 * the launcher needs no semver library to start.
 */
function satisfies(version, range) {
  const v = version.replace(/^v/, '').split('.').map(Number);
  return range.split('||').some((part) => {
    const m = /^\s*(\^|>=)\s*(\d+)\.(\d+)\.(\d+)\s*$/.exec(part);
    if (!m) throw new Error(`engines.node: unsupported range "${part.trim()}"`);
    const floor = [Number(m[2]), Number(m[3]), Number(m[4])];
    if (m[1] === '^' && v[0] !== floor[0]) return false;
    for (let i = 0; i < 3; i++) if (v[i] !== floor[i]) return v[i] > floor[i];
    return true;
  });
}

/** The range in words: "Node.js >= 24.15.0 or 22.x from 22.22.2". */
function describe(range) {
  const parts = range.split('||').map((part) => {
    const m = /^\s*(\^|>=)\s*((\d+)\.\S+)\s*$/.exec(part);
    return m[1] === '^' ? `${m[3]}.x from ${m[2]}` : `>= ${m[2]}`;
  });
  return `Node.js ${parts.reverse().join(' or ')}`;
}

/** Exits with a one-line error naming the required version and how to get it when Node is too old. */
function assertSupportedNode() {
  const range = requiredRange();
  if (satisfies(process.versions.node, range)) return;
  process.stderr.write(
    `platformctl needs ${describe(range)}, this is ${process.version}: run \`nvm install\` (reads .nvmrc) or get it from https://nodejs.org, then run the command again.\n`,
  );
  process.exit(2);
}

module.exports = { satisfies, describe, requiredRange, assertSupportedNode };
if (require.main === module) assertSupportedNode();
