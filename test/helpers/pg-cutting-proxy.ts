/**
 * A TCP proxy in front of a real PostgreSQL server that can cut its connections the way a network
 * does: without the server saying goodbye first (no FATAL message, the socket just ends). Two
 * faults: `cut()` ends every connection now (mid-statement if one is running), and
 * `loseNextCommitAnswer()` lets the next COMMIT reach the server and commit, then ends that
 * connection before the answer reaches the client, so the client cannot know the COMMIT went
 * through. Statements are read from simple (`Q`) and extended (`P`, Parse) protocol messages.
 */
import { createServer, Socket } from 'node:net';

export interface PgCuttingProxy {
  /** Port on 127.0.0.1 to connect to instead of the server's. */
  port: number;
  /** Ends every proxied connection now, on both sides. Returns how many were cut. */
  cut(): number;
  /**
   * The next `COMMIT` is forwarded and committed; its answer never arrives. With `after`, only the
   * COMMIT of a transaction that ran a statement matching it (e.g. /INSERT INTO outbox/).
   */
  loseNextCommitAnswer(after?: RegExp): void;
  /** How many COMMIT answers were swallowed so far. */
  readonly lostCommits: number;
  close(): Promise<void>;
}

/** Starts a proxy to `127.0.0.1:targetPort`. */
export async function startPgCuttingProxy(targetPort: number): Promise<PgCuttingProxy> {
  const pairs = new Set<{ client: Socket; server: Socket }>();
  let armed: RegExp | undefined;
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
    let matched = false;
    client.on('data', (chunk: Buffer) => {
      server.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const header = started ? 5 : 4;
        if (pending.length < header) break;
        const length = pending.readInt32BE(started ? 1 : 0) + (started ? 1 : 0);
        if (pending.length < length) break;
        const sql = started ? statementOf(pending.subarray(0, length)) : undefined;
        if (armed && sql !== undefined) {
          if (/^\s*COMMIT\s*;?\s*$/i.test(sql)) {
            if (matched) {
              armed = undefined;
              commitSent = true;
            }
            matched = false;
          } else if (/^\s*ROLLBACK\b/i.test(sql)) matched = false;
          else if (armed.test(sql)) matched = true;
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
    loseNextCommitAnswer(after = /(?:)/) {
      armed = after;
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

/** The SQL text of a Query (`Q`) or Parse (`P`) message; undefined for other messages. */
function statementOf(message: Buffer): string | undefined {
  if (message[0] === 0x51) return message.subarray(5, message.length - 1).toString('utf8');
  if (message[0] === 0x50) {
    const nameEnd = message.indexOf(0, 5);
    const sqlEnd = message.indexOf(0, nameEnd + 1);
    return message.subarray(nameEnd + 1, sqlEnd).toString('utf8');
  }
  return undefined;
}
