/**
 * The SQLite WAL under sustained durable writes: 16 concurrent callers of `session.execute` on a
 * file, each call answering once its execution log entry has committed, for a few seconds per run.
 * Before, a commit always landed while the worker's PASSIVE checkpoint ran, so SQLite never started
 * the WAL over: it grew to the safety net (`SAFETY_NET_AUTOCHECKPOINT_PAGES`), where the store's own
 * connection checkpointed on the event loop (its fsyncs stalling every request). Now the store holds
 * its writes for one checkpoint once the WAL passes `WAL_RESET_FRAMES`, and the next commit starts
 * the WAL over. "before" is the same build with the resetting turned off (`resetFrames: Infinity`).
 *
 * Per contender: calls per second, the event loop's delay (max and p99, `monitorEventLoopDelay`),
 * the largest WAL (from the -wal file's size, which SQLite never cuts short), how often it started
 * over and how often that followed a checkpoint of the store's own connection (the WAL had reached
 * the safety net: SQLite's autocheckpoint runs when a commit leaves that many frames), sampled from
 * the wal-index header in the -shm file (read from the file: measuring runs no checkpoint).
 * Contenders alternate run by run, each order in turn, each run on a fresh file.
 * Run: `node --experimental-strip-types bench/wal-reset.bench.ts` (after `pnpm build`);
 * BENCH_SECONDS (default 4) per run, BENCH_ROUNDS (default 6).
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ToolMux } from '@toolmux/core';
import { SqliteStore } from '../packages/core/dist/store/sqlite.js';
// the module instances the built engine uses (not part of the public API)
import { SAFETY_NET_AUTOCHECKPOINT_PAGES } from '../packages/core/dist/store/sqlite-checkpointer.js';
import { issueArgs, issueToolkit } from './issue-toolkit.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const CALLERS = 16;
const FRAME_BYTES = 24 + 4096;

interface Run {
  callsPerSecond: number;
  delayMaxMs: number;
  delayP99Ms: number;
  largestFrames: number;
  startedOver: number;
  ownCheckpoints: number;
  holds: number;
  expiredHolds: number;
  heldMs: number;
  longestHoldMs: number;
}

async function run(dir: string, name: string, index: number): Promise<Run> {
  const path = join(dir, `${name}-${index}.db`);
  const store = new SqliteStore({
    path,
    checkpoints: name === 'before' ? { resetFrames: Number.POSITIVE_INFINITY } : undefined,
  });
  const mux = new ToolMux({
    toolkits: [issueToolkit],
    store,
    secretKey: Buffer.alloc(32, 3).toString('base64'),
    logger: { debug() {}, warn() {}, error() {} },
  });
  const session = await mux.create('user_1', { toolkits: ['bench'] });
  // the WAL's frame count, from the wal-index header (mxFrame) in the -shm file
  const header = Buffer.alloc(48);
  const shm = openSync(`${path}-shm`, 'r');
  let last = 0;
  let peak = 0;
  let startedOver = 0;
  let ownCheckpoints = 0;
  const sample = () => {
    readSync(shm, header, 0, 48, 0);
    const frames = header.readUInt32LE(16);
    if (frames < last) {
      startedOver++;
      if (peak >= SAFETY_NET_AUTOCHECKPOINT_PAGES) ownCheckpoints++;
      peak = 0;
    }
    peak = Math.max(peak, frames);
    last = frames;
  };
  const sampler = setInterval(sample, 1);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let calls = 0;
  const started = performance.now();
  const end = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < end) {
        const result = await session.execute('BENCH_CREATE_ISSUE', issueArgs);
        if (!result.successful) throw new Error(result.error ?? 'failed');
        calls++;
      }
    }),
  );
  const elapsed = performance.now() - started;
  delay.disable();
  clearInterval(sampler);
  sample();
  // a WAL left past the safety net at the end was checkpointed by the store's connection too
  if (peak >= SAFETY_NET_AUTOCHECKPOINT_PAGES) ownCheckpoints++;
  closeSync(shm);
  const { holds } = (
    store as unknown as {
      checkpointer: { holds: { held: number; expired: number; heldMs: number; longestMs: number } };
    }
  ).checkpointer;
  const largestFrames = Math.round((statSync(`${path}-wal`).size - 32) / FRAME_BYTES);
  await mux.close();
  await store.close();
  return {
    callsPerSecond: (calls * 1000) / elapsed,
    delayMaxMs: delay.max / 1e6,
    delayP99Ms: delay.percentile(99) / 1e6,
    largestFrames,
    startedOver,
    ownCheckpoints,
    holds: holds.held,
    expiredHolds: holds.expired,
    heldMs: holds.heldMs,
    longestHoldMs: holds.longestMs,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

console.log(
  `\n## SQLite WAL under sustained durable writes: ${CALLERS} callers, ${SECONDS} s per run, ${ROUNDS} rounds`,
);
const dir = mkdtempSync(join(tmpdir(), 'toolmux-bench-wal-'));
const runs: Record<string, Run[]> = { before: [], reset: [] };
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['before', 'reset'] : ['reset', 'before'];
    for (const name of order) {
      const result = await run(dir, name, round);
      runs[name]!.push(result);
      console.log(
        `${name.padEnd(7)} ${Math.round(result.callsPerSecond).toString().padStart(6)} calls/s  event loop delay max ${result.delayMaxMs.toFixed(1).padStart(6)} ms p99 ${result.delayP99Ms.toFixed(1).padStart(5)} ms  largest WAL ${String(result.largestFrames).padStart(6)} frames  started over ${String(result.startedOver).padStart(3)}×  own-connection checkpoints ${result.ownCheckpoints}  holds ${result.holds} (expired ${result.expiredHolds}, writes held ${Math.round(result.heldMs)} ms in all, longest ${result.longestHoldMs.toFixed(1)} ms)  load average ${loadavg()[0]!.toFixed(1)}`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
for (const name of ['before', 'reset']) {
  const list = runs[name]!;
  console.log(
    `${name.padEnd(7)} median: ${Math.round(median(list.map((r) => r.callsPerSecond)))} calls/s, event loop delay max ${median(list.map((r) => r.delayMaxMs)).toFixed(1)} ms (worst ${Math.max(...list.map((r) => r.delayMaxMs)).toFixed(1)}), p99 ${median(list.map((r) => r.delayP99Ms)).toFixed(1)} ms, largest WAL ${Math.max(...list.map((r) => r.largestFrames))} frames, own-connection checkpoints ${list.reduce((sum, r) => sum + r.ownCheckpoints, 0)} in all`,
  );
}
const ratio =
  median(runs.reset!.map((r) => r.callsPerSecond)) / median(runs.before!.map((r) => r.callsPerSecond));
console.log(
  `throughput reset/before ${ratio.toFixed(2)}×  load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
