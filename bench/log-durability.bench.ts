/**
 * Issue 15, item 4: a call answers only once its execution log entry has committed (group commit:
 * the calls of one event-loop turn share one transaction). Call throughput of `session.execute`
 * against the log writing before issue 15, which answered first and wrote afterwards (goal ≥ 0.9×),
 * on an SQLite file and on PostgreSQL (also with `synchronous_commit=off`, and through the server's
 * Unix socket where it has one), for 1, 16 and 64 concurrent callers in process and 64 REST clients.
 *
 * The old behaviour is reachable only here: `ExecutionLogWriter.prototype.write` is wrapped so that,
 * for the "after the answer" contender, the call does not wait for its entry (same queue, same
 * batches). Each run ends by flushing the writer, which waits for every pending write, so the old mode's
 * writes are paid for within its own run. Contenders alternate run by run (`measureInterleaved`).
 * CPU per call is the whole process's (checkpoint worker and GC threads included) and the event
 * loop's own.
 * On SQLite it also counts the WAL pages a log commit writes (what a lone caller pays per call).
 * Run: `node --experimental-strip-types bench/log-durability.bench.ts` (after `pnpm build`);
 * `BENCH_TOOL_MS=1` for a tool that waits 1 ms before it answers, as a tool calling an API does.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type Session, ToolMux } from '@toolmux/core';
import { createTestPostgresUrl } from '@toolmux/core/test';
// the module instance the built engine uses (not part of the public API)
import { ExecutionLogWriter } from '../packages/core/dist/execution/log-writer.js';
import { SqliteStore } from '../packages/core/dist/store/sqlite.js';
import { createServer } from '../packages/server/dist/index.js';
import { measureInterleaved } from './harness.ts';
import { issueArgs, makeIssueToolkit } from './issue-toolkit.ts';

let afterTheAnswer = false;
let writer: ExecutionLogWriter | undefined;
const durableWrite = ExecutionLogWriter.prototype.write;
ExecutionLogWriter.prototype.write = function (this: ExecutionLogWriter, record) {
  writer = this;
  const stored = durableWrite.call(this, record);
  return afterTheAnswer ? Promise.resolve(true) : stored;
};

const CALLS_PER_RUN = Number(process.env.BENCH_CALLS ?? 400);
/** BENCH_CONCURRENCY=1,16,64 (in-process callers), BENCH_REST=0 skips REST, BENCH_STORES=sqlite,postgres,pg-async,pg-socket */
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16,64').split(',').map(Number);
const REST = process.env.BENCH_REST !== '0';
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres,pg-async,pg-socket').split(',');
/**
 * BENCH_TOOL_MS=1: the tool waits 1 ms on a timer before it answers (a stand-in for the API a real
 * tool calls, which takes far longer); by default it answers at once, so a call costs little but
 * its log entry (the worst case for durable logging).
 */
const TOOL_MS = Number(process.env.BENCH_TOOL_MS ?? 0);
const issueToolkit = makeIssueToolkit(TOOL_MS);

async function burst(session: Session, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < CALLS_PER_RUN) {
        const result = await session.execute('BENCH_CREATE_ISSUE', issueArgs);
        if (!result.successful) throw new Error(result.error ?? 'failed');
      }
    }),
  );
}

async function compare(name: string, store: string, secretKey?: string) {
  const mux = new ToolMux({
    toolkits: [issueToolkit],
    store,
    secretKey,
    logger: { debug() {}, warn() {}, error() {} },
  });
  const session = await mux.create('user_1', { toolkits: ['bench'] });
  for (const concurrency of CONCURRENCY) {
    // CPU time of this process per call in each mode (warm-up included): unlike throughput, it does
    // not depend on how busy the shared machine is
    const cpu = { durable: 0, 'after the answer': 0 };
    const eventLoopCpu = { durable: 0, 'after the answer': 0 };
    const calls = { durable: 0, 'after the answer': 0 };
    const timed = (key: keyof typeof cpu, run: () => Promise<void>) => async () => {
      const before = process.cpuUsage();
      const beforeEventLoop = process.threadCpuUsage();
      await run();
      await writer?.flush();
      const used = process.cpuUsage(before);
      const usedEventLoop = process.threadCpuUsage(beforeEventLoop);
      cpu[key] += used.user + used.system;
      eventLoopCpu[key] += usedEventLoop.user + usedEventLoop.system;
      calls[key] += CALLS_PER_RUN;
    };
    const perCall = (key: keyof typeof cpu) =>
      `${(cpu[key] / calls[key]).toFixed(1)} (event loop ${(eventLoopCpu[key] / calls[key]).toFixed(1)})`;
    const result = await measureInterleaved(
      {
        durable: timed('durable', async () => {
          afterTheAnswer = false;
          await burst(session, concurrency);
        }),
        'after the answer': timed('after the answer', async () => {
          afterTheAnswer = true;
          await burst(session, concurrency);
        }),
      },
      // waiting for every pending write: the old mode pays for its writes in its run
      { rounds: 7, runsPerRound: 2, warmupRuns: 1, settle: async () => writer?.flush() },
    );
    const callsPerSecond = (key: 'durable' | 'after the answer') =>
      Math.round((CALLS_PER_RUN * 1e9) / result.nsPerRun[key]);
    console.log(
      `${name.padEnd(12)} ${String(concurrency).padStart(3)} callers: durable ${String(callsPerSecond('durable')).padStart(6)} calls/s, after the answer ${String(callsPerSecond('after the answer')).padStart(6)} calls/s  → throughput ratio ${(1 / result.ratio('durable', 'after the answer')).toFixed(2)}× (goal ≥ 0.9×)  CPU per call ${perCall('durable')} / ${perCall('after the answer')} µs  load average ${loadavg()[0]!.toFixed(1)}`,
    );
  }
  if (!REST) {
    await mux.close();
    return;
  }
  // the same calls over REST (POST /sessions/:id/execute) from 64 concurrent clients
  const apiKey = 'bench-api-key-0123456789abcdef';
  const running = await createServer({ toolmux: mux, apiKey }).serve({ port: 0, hostname: '127.0.0.1' });
  const body = JSON.stringify({ tool_slug: 'BENCH_CREATE_ISSUE', arguments: issueArgs });
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
    { rounds: 7, runsPerRound: 1, warmupRuns: 1, settle: async () => writer?.flush() },
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
    input: JSON.stringify(issueArgs),
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
  await compare('SQLite file', `sqlite:${join(dir, 'durability.db')}`);
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
    // The same server through its Unix socket, where it has one (PostgreSQL on the same host): a log
    // commit's round trip costs the event loop less than over TCP on loopback (no TCP stack).
    const socketDirectory = process.env.BENCH_PG_SOCKET_DIR ?? '/var/run/postgresql';
    const socket = new URL(url);
    if (STORES.includes('pg-socket') && ['localhost', '127.0.0.1', '[::1]'].includes(socket.hostname)) {
      if (existsSync(join(socketDirectory, `.s.PGSQL.${socket.port || 5432}`))) {
        socket.searchParams.set('host', socketDirectory);
        await compare('PG socket', socket.toString(), Buffer.alloc(32, 3).toString('base64'));
      } else console.log(`PG socket skipped: no socket in ${socketDirectory} (BENCH_PG_SOCKET_DIR)`);
    }
  } finally {
    await cleanup();
  }
} catch (error) {
  console.log(`PostgreSQL skipped: ${(error as Error).message}`);
}
