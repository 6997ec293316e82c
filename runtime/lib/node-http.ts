/**
 * node:http without its ES-module facade. `import … from 'node:http'` makes Node (24) evaluate
 * every export of the builtin for the facade, including lazy getters that load its bundled undici
 * and, through it, http2 and tls: about 30 ms of CPU at start-up, paid by every CLI command and
 * service importing it. Looking the builtin up the CommonJS way does not. Types still come from
 * `import type … from 'node:http'`, which costs nothing at run time.
 */
export const http = process.getBuiltinModule('node:http');
