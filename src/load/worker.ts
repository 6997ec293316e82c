/** Worker thread entry: runs one generator slice and posts encoded interval deltas to the parent. */
import { parentPort, workerData } from 'node:worker_threads';
import { Generator, type GeneratorConfig } from './generator.ts';
import { encodeHistogram } from './metrics.ts';

type FromParent = { type: 'start'; startAt: number } | { type: 'stop' };

const port = parentPort;
if (!port) throw new Error('load worker must run in a worker thread');
const base = workerData as Omit<GeneratorConfig, 'startAt'>;
let gen: Generator | undefined;

port.on('message', (msg: FromParent) => {
  if (msg.type === 'start') {
    gen = new Generator({ ...base, startAt: msg.startAt }, (rec, inFlight, vus) => {
      port.postMessage({ type: 'interval', delta: rec.flush(encodeHistogram, inFlight, vus) });
    });
    void gen.run().then(() => {
      port.postMessage({ type: 'done' });
      port.close();
    });
  } else if (msg.type === 'stop') {
    gen?.stop();
  }
});
port.postMessage({ type: 'ready' });
