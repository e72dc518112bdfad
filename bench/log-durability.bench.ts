/**
 * Issue 15, item 4: a call answers only once its execution log entry has committed (group commit:
 * the calls of one turn share one transaction). Call throughput of `session.execute` against the log
 * writing before issue 15, which answered first and wrote afterwards (goal ≥ 0.9×), on an SQLite file
 * and on PostgreSQL (also with `synchronous_commit=off`), for 1, 16 and 64 concurrent callers in
 * process and 64 REST clients.
 *
 * The old behaviour is reachable only here: `ExecutionLogWriter.prototype.write` is wrapped so that,
 * for the "after the answer" contenders, the call does not wait for its entry (same queue, same
 * batches). On SQLite there are two of them: "after the answer" writes through the store's log worker
 * thread like the durable mode, and "before" is the log writing of before the worker (a second
 * ToolMux on its own file whose store commits on its own connection, one batch per turn), what the
 * goal is measured against; on PostgreSQL the log path did not change, so "after the answer" is it.
 * Each run ends by flushing the writers, which waits for every pending write, so the old modes'
 * writes are paid for within their own run. Contenders alternate run by run (`measureInterleaved`).
 * CPU per call is the whole process's (worker threads included) and the event loop's own.
 * On SQLite it also counts the WAL pages a log commit writes (what a lone caller pays per call).
 * Run: `node --experimental-strip-types bench/log-durability.bench.ts` (after `pnpm build`).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { defineTool, defineToolkit, type Session, ToolMux } from '@toolmux/core';
import { createTestPostgresUrl } from '@toolmux/core/test';
import { z } from 'zod';
// the module instance the built engine uses (not part of the public API)
import { ExecutionLogWriter } from '../packages/core/dist/execution/log-writer.js';
import { SqliteStore } from '../packages/core/dist/store/sqlite.js';
import { createServer } from '../packages/server/dist/index.js';
import { measureInterleaved } from './harness.ts';

let afterTheAnswer = false;
const writers = new Set<ExecutionLogWriter>();
const flushWriters = () => Promise.all([...writers].map((writer) => writer.flush()));
const durableWrite = ExecutionLogWriter.prototype.write;
ExecutionLogWriter.prototype.write = function (this: ExecutionLogWriter, record) {
  writers.add(this);
  const stored = durableWrite.call(this, record);
  return afterTheAnswer ? Promise.resolve(true) : stored;
};

// "before" on SQLite: a store that never starts its log worker (it writes on its own connection),
// whose writer therefore starts no batch mid-turn, as before the worker
const storesBefore = new WeakSet<object>();
let openingBefore = false;
const sqlite = SqliteStore.prototype as unknown as {
  startLogThread(this: object): { ready: boolean };
};
const startLogThread = sqlite.startLogThread;
sqlite.startLogThread = function () {
  if (openingBefore) storesBefore.add(this);
  return storesBefore.has(this) ? { ready: false } : startLogThread.call(this);
};
const cheapLogBatches = Object.getOwnPropertyDescriptor(SqliteStore.prototype, 'cheapLogBatches')!.get!;
Object.defineProperty(SqliteStore.prototype, 'cheapLogBatches', {
  get(this: object) {
    if (openingBefore) storesBefore.add(this);
    return storesBefore.has(this) ? false : cheapLogBatches.call(this);
  },
});

const createIssue = defineTool({
  slug: 'BENCH_CREATE_ISSUE',
  description: 'Create an issue',
  inputSchema: z.object({ owner: z.string(), repo: z.string(), title: z.string() }),
  execute: async (input) => ({ number: 1, title: input.title }),
});
const toolkit = defineToolkit({ slug: 'bench', description: 'Benchmark toolkit', tools: [createIssue] });
const args = { owner: 'octocat', repo: 'hello-world', title: 'Found a bug' };
const CALLS_PER_RUN = Number(process.env.BENCH_CALLS ?? 400);
/** BENCH_CONCURRENCY=1,16,64 (in-process callers), BENCH_REST=0 skips REST, BENCH_STORES=sqlite,postgres,pg-async */
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16,64').split(',').map(Number);
const REST = process.env.BENCH_REST !== '0';
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres,pg-async').split(',');

async function burst(session: Session, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < CALLS_PER_RUN) {
        const result = await session.execute('BENCH_CREATE_ISSUE', args);
        if (!result.successful) throw new Error(result.error ?? 'failed');
      }
    }),
  );
}

/** "durable before": durable on the "before" store (the log worker's gain for durable calls). */
type Mode = 'durable' | 'after the answer' | 'before' | 'durable before';

async function compare(name: string, store: string, secretKey?: string, before?: string) {
  const open = (path: string) =>
    new ToolMux({
      toolkits: [toolkit],
      store: path,
      secretKey,
      logger: { debug() {}, warn() {}, error() {} },
    });
  const mux = open(store);
  const session = await mux.create('user_1', { toolkits: ['bench'] });
  let beforeMux: ToolMux | undefined;
  let beforeSession: Session | undefined;
  if (before !== undefined) {
    // the store starts its log worker when it migrates, and the writer asks it whether batches are
    // cheap when it is made: both happen while the "before" ToolMux opens and makes its first call
    openingBefore = true;
    beforeMux = open(before);
    beforeSession = await beforeMux.create('user_1', { toolkits: ['bench'] });
    await beforeSession.execute('BENCH_CREATE_ISSUE', args);
    openingBefore = false;
  }
  const modes: Mode[] = beforeSession
    ? ['durable', 'after the answer', 'before', 'durable before']
    : ['durable', 'after the answer'];
  const baseline: Mode = beforeSession ? 'before' : 'after the answer';
  for (const concurrency of CONCURRENCY) {
    // CPU time per call in each mode (warm-up included), of the whole process and of the event loop's
    // thread: unlike throughput, it does not depend much on how busy the shared machine is
    const zero = (): Record<Mode, number> => ({
      durable: 0,
      'after the answer': 0,
      before: 0,
      'durable before': 0,
    });
    const cpu = zero();
    const mainCpu = zero();
    const calls = zero();
    const timed = (key: Mode) => async () => {
      afterTheAnswer = !key.startsWith('durable');
      const before = process.cpuUsage();
      const beforeMain = process.threadCpuUsage();
      await burst(key.endsWith('before') ? beforeSession! : session, concurrency);
      await flushWriters();
      const used = process.cpuUsage(before);
      const usedMain = process.threadCpuUsage(beforeMain);
      cpu[key] += used.user + used.system;
      mainCpu[key] += usedMain.user + usedMain.system;
      calls[key] += CALLS_PER_RUN;
    };
    const result = await measureInterleaved(
      Object.fromEntries(modes.map((mode) => [mode, timed(mode)])) as Record<Mode, () => Promise<void>>,
      // waiting for every pending write: the old modes pay for their writes in their run
      { rounds: 7, runsPerRound: 2, warmupRuns: 1, settle: flushWriters },
    );
    const callsPerSecond = (key: Mode) => Math.round((CALLS_PER_RUN * 1e9) / result.nsPerRun[key]);
    const perCall = (key: Mode) =>
      `${(cpu[key] / calls[key]).toFixed(1)} µs (event loop ${(mainCpu[key] / calls[key]).toFixed(1)})`;
    const ratio = (value: Mode, base: Mode) => (1 / result.ratio(value, base)).toFixed(2);
    const ratios = [
      `durable ÷ ${baseline} ${ratio('durable', baseline)}× (goal ≥ 0.9×)`,
      ...(baseline === 'before'
        ? [
            `durable ÷ after the answer ${ratio('durable', 'after the answer')}×`,
            `durable before ÷ before ${ratio('durable before', 'before')}×`,
          ]
        : []),
    ].join(', ');
    console.log(
      `${name.padEnd(12)} ${String(concurrency).padStart(3)} callers: ${ratios}  load average ${loadavg()[0]!.toFixed(1)}\n` +
        modes
          .map(
            (mode) =>
              `    ${mode.padEnd(16)} ${String(callsPerSecond(mode)).padStart(6)} calls/s  CPU per call ${perCall(mode)}`,
          )
          .join('\n'),
    );
  }
  await beforeMux?.close();
  if (!REST) {
    await mux.close();
    return;
  }
  // the same calls over REST (POST /sessions/:id/execute) from 64 concurrent clients
  const apiKey = 'bench-api-key-0123456789abcdef';
  const running = await createServer({ toolmux: mux, apiKey }).serve({ port: 0, hostname: '127.0.0.1' });
  const body = JSON.stringify({ tool_slug: 'BENCH_CREATE_ISSUE', arguments: args });
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  const restBurst = async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next++ < CALLS_PER_RUN) {
          const response = await fetch(`${running.url}/api/v1/sessions/${session.sessionId}/execute`, {
            method: 'POST',
            headers,
            body,
          });
          if (!((await response.json()) as { successful: boolean }).successful) throw new Error('failed');
        }
      }),
    );
  };
  const rest = await measureInterleaved(
    {
      durable: async () => {
        afterTheAnswer = false;
        await restBurst();
      },
      'after the answer': async () => {
        afterTheAnswer = true;
        await restBurst();
      },
    },
    { rounds: 7, runsPerRound: 1, warmupRuns: 1, settle: flushWriters },
  );
  const restRate = (key: 'durable' | 'after the answer') =>
    Math.round((CALLS_PER_RUN * 1e9) / rest.nsPerRun[key]);
  console.log(
    `${name.padEnd(12)} REST, 64 clients: durable ${String(restRate('durable')).padStart(6)} calls/s, after the answer ${String(restRate('after the answer')).padStart(6)} calls/s  → throughput ratio ${(1 / rest.ratio('durable', 'after the answer')).toFixed(2)}× (goal ≥ 0.9×)  load average ${loadavg()[0]!.toFixed(1)}`,
  );
  await running.close();
  await mux.close();
}

/**
 * What a durable commit writes on SQLite, counted (not timed): WAL pages per log commit of 1, 16 and
 * 64 entries, on a table that already holds 20,000 entries. Each page is two write(2) calls; the
 * commit also takes and releases its locks (six fcntl(2) calls) whatever its size, which is why a
 * lone caller (one commit per call) cannot come near the batched writes of the old behaviour.
 */
async function walPagesPerCommit(path: string): Promise<void> {
  const store = new SqliteStore({ path });
  await store.migrate();
  let sequence = 0;
  const entry = () => ({
    id: `log_${String(Date.now()).padStart(14, '0')}${String(sequence++).padStart(24, '0')}`,
    sessionId: `ses_${'1'.repeat(38)}`,
    userId: 'user_1',
    toolSlug: 'BENCH_CREATE_ISSUE',
    toolkit: 'bench',
    connectedAccountId: null,
    callId: null,
    status: 'success' as const,
    errorCode: null,
    errorMessage: null,
    durationMs: 0.2,
    input: JSON.stringify(args),
    output: '{"number":1,"title":"Found a bug"}',
    createdAt: new Date(),
    parentId: null,
  });
  for (let batch = 0; batch < 40; batch++) await store.insertLogs(Array.from({ length: 500 }, entry));
  // a connection of the bench's own empties the WAL before each count (no other reader or writer then)
  const side = new DatabaseSync(path);
  const pages: string[] = [];
  for (const size of [1, 16, 64]) {
    // fewer than 2,000 rows: the checkpoint worker is not asked to run meanwhile
    const commits = Math.min(50, Math.floor(1_900 / size));
    await store.checkpoint();
    side.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    for (let commit = 0; commit < commits; commit++) {
      await store.insertLogs(Array.from({ length: size }, entry));
    }
    const frames = (statSync(`${path}-wal`).size - 32) / (4096 + 24);
    pages.push(`${size} entr${size === 1 ? 'y' : 'ies'}: ${(frames / commits).toFixed(1)}`);
  }
  side.close();
  await store.close();
  console.log(`SQLite WAL pages per log commit (counted): ${pages.join(', ')}`);
}

console.log('\n## call throughput: durable group commit vs writing after the answer (goal ≥ 0.9×)');
const dir = mkdtempSync(join(tmpdir(), 'toolmux-bench-'));
if (STORES.includes('sqlite')) {
  await compare(
    'SQLite file',
    `sqlite:${join(dir, 'durability.db')}`,
    undefined,
    `sqlite:${join(dir, 'before.db')}`,
  );
  await walPagesPerCommit(join(dir, 'pages.db'));
}
rmSync(dir, { recursive: true, force: true });
try {
  const { url, cleanup } = await createTestPostgresUrl();
  try {
    if (STORES.includes('postgres')) await compare('PostgreSQL', url, Buffer.alloc(32, 3).toString('base64'));
    // A deployment may let PostgreSQL acknowledge commits before their WAL reaches the disk: they
    // survive a crash of toolmux (what item 4 is about) but not one of PostgreSQL itself.
    const asyncCommit = new URL(url);
    asyncCommit.searchParams.set(
      'options',
      `${asyncCommit.searchParams.get('options')} -c synchronous_commit=off`,
    );
    if (STORES.includes('pg-async'))
      await compare('PG async', asyncCommit.toString(), Buffer.alloc(32, 3).toString('base64'));
  } finally {
    await cleanup();
  }
} catch (error) {
  console.log(`PostgreSQL skipped: ${(error as Error).message}`);
}
