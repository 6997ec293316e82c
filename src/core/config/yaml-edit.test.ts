import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { addMappingEntry } from './yaml-edit.ts';

const FILE = `# platform.yaml, written by hand
apiVersion: platformctl/v1
name: acme   # the platform's name

environments:
  prod: { cloud: aws, region: eu-west-1, extraRegions: [us-east-1], protected: true }

# The services, in no particular order.
services:
  gateway:
    path: builtin:gateway
    port: 8080
    kind: gateway
    dependsOn: [auth, content]   # start order
    slo: { availability: 99.95, latencyP99Ms: 300 }
  auth:
    path: "builtin:auth"
    port: 8081
    routes: [/auth, /.well-known]
    env: { A_VERY_LONG_VARIABLE_NAME_THAT_GOES_ON: "and a value long enough to pass eighty columns" }  # kept
# Progressive delivery defaults.
delivery:
  steps: [10, 50, 100]
`;

describe('addMappingEntry', () => {
  it('adds the entry after the last one and keeps every other byte: comments, flow style, quotes, long lines', () => {
    const out = addMappingEntry(FILE, 'services', 'billing', {
      path: 'services/billing',
      port: 8090,
      routes: ['/billing'],
      owner: 'payments',
    });
    const added =
      '  billing:\n    path: services/billing\n    port: 8090\n    routes: [/billing]\n    owner: payments\n';
    const at = FILE.indexOf('# Progressive delivery defaults.');
    expect(out).toBe(`${FILE.slice(0, at)}${added}${FILE.slice(at)}`);
    expect(parse(out).services.billing).toEqual({
      path: 'services/billing',
      port: 8090,
      routes: ['/billing'],
      owner: 'payments',
    });
    expect(Object.keys(parse(out).services)).toEqual(['gateway', 'auth', 'billing']);
  });

  it('follows the file own indentation and works at the end of a file without a final newline', () => {
    const text = 'services:\n    a:\n        port: 1';
    const out = addMappingEntry(text, 'services', 'b', { port: 2 });
    expect(out).toBe('services:\n    a:\n        port: 1\n    b:\n        port: 2\n');
  });

  it('refuses a file without a services block, naming what to do', () => {
    expect(() => addMappingEntry('name: x\n', 'services', 'b', { port: 2 })).toThrow(/no "services:" block/);
  });
});
