/**
 * A TCP proxy in front of a real PostgreSQL server that can cut its connections the way a network
 * does: without the server saying goodbye first (no FATAL message, the socket just ends). Two
 * faults: `cut()` ends every connection now (mid-statement if one is running), and
 * `loseNextCommitAnswer()` lets the next COMMIT reach the server and commit, then ends that
 * connection before the answer reaches the client, so the client cannot know the COMMIT went
 * through.
 */
import { createServer, Socket } from 'node:net';

export interface PgCuttingProxy {
  /** Port on 127.0.0.1 to connect to instead of the server's. */
  port: number;
  /** Ends every proxied connection now, on both sides. Returns how many were cut. */
  cut(): number;
  /** The next simple-protocol `COMMIT` is forwarded and committed; its answer never arrives. */
  loseNextCommitAnswer(): void;
  /** How many COMMIT answers were swallowed so far. */
  readonly lostCommits: number;
  close(): Promise<void>;
}

/** Starts a proxy to `127.0.0.1:targetPort`. */
export async function startPgCuttingProxy(targetPort: number): Promise<PgCuttingProxy> {
  const pairs = new Set<{ client: Socket; server: Socket }>();
  let armed = false;
  let lostCommits = 0;

  const proxy = createServer((client) => {
    const server = new Socket();
    const pair = { client, server };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
    server.connect(targetPort, '127.0.0.1');

    // Client → server frames: the startup message has no type byte, every later one does.
    let pending = Buffer.alloc(0);
    let started = false;
    let commitSent = false;
    client.on('data', (chunk: Buffer) => {
      server.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const header = started ? 5 : 4;
        if (pending.length < header) break;
        const length = pending.readInt32BE(started ? 1 : 0) + (started ? 1 : 0);
        if (pending.length < length) break;
        if (started && armed && pending[0] === 0x51 /* Q */) {
          const sql = pending.subarray(5, length - 1).toString('utf8');
          if (/^\s*COMMIT\s*;?\s*$/i.test(sql)) {
            armed = false;
            commitSent = true;
          }
        }
        started = true;
        pending = pending.subarray(length);
      }
    });
    server.on('data', (chunk: Buffer) => {
      if (commitSent) {
        // The server has committed and answered: the answer is lost with the connection.
        lostCommits += 1;
        end();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (!address || typeof address === 'string') throw new Error('proxy has no port');

  const cut = (): number => {
    const n = pairs.size;
    for (const { client, server } of [...pairs]) {
      client.destroy();
      server.destroy();
    }
    pairs.clear();
    return n;
  };

  return {
    port: address.port,
    cut,
    loseNextCommitAnswer() {
      armed = true;
    },
    get lostCommits() {
      return lostCommits;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
