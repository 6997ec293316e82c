/**
 * A private single-node Apache Kafka broker (KRaft: one process is broker and controller) for a
 * test file, from the official artefacts on Maven Central. `test/kafka/pom.xml` names them; the
 * jars are fetched once with `mvn dependency:copy-dependencies` into
 * `~/.cache/platformctl-kafka/<hash of the pom>/libs` and the broker runs as `java kafka.Kafka`
 * on free 127.0.0.1 ports, with its log directory in a temp dir. Stopped by PID, never by name.
 *
 * Skips (outside CI) when Java or Maven is missing; in CI that is a failure (`.ci/run` fetches it).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/core/ports.ts';
import { sleep } from '../../src/core/sleep.ts';

const POM = join(import.meta.dirname, '..', 'kafka', 'pom.xml');

export interface KafkaServer {
  /** `kafka://127.0.0.1:<port>` for BUS_URL. */
  url: string;
  port: number;
  /** Stops the broker (SIGTERM, then SIGKILL), waits `downMs`, starts it again with the same data. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function has(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** Why Kafka tests cannot run here (undefined: they can). Throws in CI when a tool is missing. */
export function kafkaSkipReason(): string | undefined {
  const missing = [
    has('java', ['-version']) ? '' : 'java',
    existsSync(libsDir()) || has('mvn', ['-v']) ? '' : 'mvn',
  ]
    .filter(Boolean)
    .join(' and ');
  if (!missing) return undefined;
  if (process.env.CI)
    throw new Error(`${missing} missing in CI: apt-get install -y openjdk-17-jre-headless maven`);
  return `Kafka needs ${missing} (apt-get install -y openjdk-17-jre-headless maven); skipping outside CI`;
}

/** Where the broker's jars live, keyed by the pom so that a version change fetches anew. */
export function libsDir(): string {
  const hash = createHash('sha256').update(readFileSync(POM)).digest('hex').slice(0, 16);
  return join(process.env.PLATFORMCTL_CACHE ?? join(homedir(), '.cache'), 'platformctl-kafka', hash, 'libs');
}

/** Fetches the broker's jars from Maven Central unless they are cached; returns the directory. */
export function fetchKafka(): string {
  const libs = libsDir();
  if (existsSync(libs)) return libs;
  const staging = `${libs}.tmp-${process.pid}`;
  mkdirSync(staging, { recursive: true });
  execFileSync(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      POM,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${staging}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 },
  );
  // Another test file may have finished the same fetch meanwhile: either copy is complete.
  if (existsSync(libs)) rmSync(staging, { recursive: true, force: true });
  else renameSync(staging, libs);
  return libs;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * The listener opens before the broker has registered with the controller; until it has, metadata
 * lists no broker and a producer waits for a leader that does not exist yet.
 */
async function brokerRegistered(port: number): Promise<boolean> {
  const { Admin } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: 'kafka-test-helper', bootstrapBrokers: [`127.0.0.1:${port}`] });
  try {
    const md = await admin.metadata({ topics: [] });
    return md.brokers.size > 0;
  } catch {
    return false;
  } finally {
    await admin.close().catch(() => {});
  }
}

/** Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding. */
function clusterId(): string {
  return randomBytes(16).toString('base64url');
}

export async function startKafka(): Promise<KafkaServer> {
  const libs = fetchKafka();
  const dir = mkdtempSync(join(tmpdir(), 'kafkatest-'));
  const port = await freePort();
  let controller = await freePort();
  while (controller === port) controller = await freePort();
  const props = join(dir, 'server.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'num.partitions=1',
      'auto.create.topics.enable=true',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'log4j2.properties'),
    [
      'appender.file.type=File',
      'appender.file.name=file',
      `appender.file.fileName=${join(dir, 'broker.log')}`,
      'appender.file.layout.type=PatternLayout',
      'appender.file.layout.pattern=[%d] %p %m (%c)%n',
      'rootLogger.level=WARN',
      'rootLogger.appenderRef.file.ref=file',
      '',
    ].join('\n'),
  );
  // Small heap, serial GC and C1 only: a test broker on a shared 2-core machine.
  const jvm = [
    '-Xms128m',
    '-Xmx512m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
    '-cp',
    `${libs}/*`,
  ];
  execFileSync('java', [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', props], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 120_000,
  });

  let proc: ChildProcess | undefined;
  let output = '';
  const launch = async () => {
    output = '';
    const child = spawn('java', [...jvm, 'kafka.Kafka', props], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    proc = child;
    child.stdout?.on('data', (d) => {
      output += String(d);
    });
    child.stderr?.on('data', (d) => {
      output += String(d);
    });
    for (let i = 0; i < 1200; i++) {
      if (child.exitCode !== null) break;
      if ((await portOpen(port)) && (await brokerRegistered(port))) return;
      await sleep(100);
    }
    await halt();
    const log = existsSync(join(dir, 'broker.log')) ? readFileSync(join(dir, 'broker.log'), 'utf8') : '';
    throw new Error(`Kafka did not start on 127.0.0.1:${port}\n${(output + log).slice(-3000)}`);
  };
  const halt = async () => {
    const child = proc;
    proc = undefined;
    if (!child?.pid || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await launch();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  return {
    url: `kafka://127.0.0.1:${port}`,
    port,
    async restart(downMs = 0) {
      await halt();
      await sleep(downMs);
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
