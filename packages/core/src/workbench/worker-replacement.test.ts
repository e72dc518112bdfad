import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { ToolResult } from '../execution/result.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { workbenchHost } from './host.js';
import { WorkbenchPool } from './workbench.js';
import {
  sharedWorkbenchWorkers,
  spawnWorkbenchThread,
  WorkbenchWorkers,
  type WorkerFailure,
} from './worker-pool.js';

// One worker thread and no more: every session's context lives in it, so a failure hits them all.
// These cases are about worker threads (the main thread's slices have their own tests).
process.env.TOOLMUX_WORKBENCH_THREAD = 'workers';
process.env.TOOLMUX_WORKBENCH_WORKERS = '1';
process.env.TOOLMUX_WORKBENCH_MAX_WORKERS = '1';

const quiet = { debug() {}, warn() {}, error() {} };
type Cell = { result: unknown; logs: string[]; error?: { code: string; message: string }; notice?: string };
const cellOf = (result: ToolResult) => result.data as Cell;

/** A tool that makes the worker running the calling session's cell fail, then answers. */
function failingToolkit() {
  return defineToolkit({
    slug: 'failing',
    description: 'Fails the workbench worker (test hook)',
    tools: [
      defineTool({
        slug: 'FAILING_BREAK_WORKER',
        description: 'Break the worker running this session',
        inputSchema: z.object({ session: z.string(), how: z.enum(['exit', 'hang', 'throw']) }),
        execute: async ({ session, how }) => {
          const found = sharedWorkbenchWorkers().failWorkerForTest(
            (key) => key.endsWith(`:${session}`),
            how as WorkerFailure,
          );
          await new Promise((resolve) => setTimeout(resolve, 100));
          return { found };
        },
      }),
    ],
  });
}

function setup() {
  const sample = createSampleToolkits();
  return new ToolMux({ toolkits: [...sample.toolkits, failingToolkit()], store: ':memory:', logger: quiet });
}

describe('workbench worker replacement', () => {
  it.each([
    ['exits', 'exit', 'WORKBENCH_WORKER_RESTARTED'],
    ['throws', 'throw', 'WORKBENCH_WORKER_RESTARTED'],
    ['hangs outside the engine', 'hang', 'WORKBENCH_TIMEOUT'],
  ] as const)(
    'a worker that %s (%s) is replaced: the cell gets %s, the session and other sessions work on',
    async (_name, how, code) => {
      const mux = setup();
      const broken = await mux.create('user_1', { workbench: { timeoutMs: 1_000 } });
      const bystander = await mux.create('user_2', { workbench: {} });
      await bystander.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.kept = 1' });
      await broken.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.kept = 2' });
      const failed = await broken.execute(MetaToolSlug.WORKBENCH, {
        code: `const r = await toolmux.execute('FAILING_BREAK_WORKER', { session: ${JSON.stringify(broken.sessionId)}, how: ${JSON.stringify(how)} });
               return r;`,
      });
      expect(cellOf(failed).error?.code).toBe(code);
      expect(cellOf(failed).error?.message).toContain('restarted');
      // The session's next call runs in a new context, and is told.
      const next = await broken.execute(MetaToolSlug.WORKBENCH, { code: 'return typeof globalThis.kept' });
      expect(cellOf(next).error).toBeUndefined();
      expect(cellOf(next).result).toBe('undefined');
      expect(cellOf(next).notice).toContain('new workbench context');
      // The other session shared the worker: its context is gone too, and it is told; it works.
      const other = await bystander.execute(MetaToolSlug.WORKBENCH, {
        code: 'return typeof globalThis.kept',
      });
      expect(cellOf(other).error).toBeUndefined();
      expect(cellOf(other).result).toBe('undefined');
      expect(cellOf(other).notice).toContain('worker was restarted');
      expect((await bystander.execute('TASKS_LIST_TASKS', {})).successful).toBe(true);
      await mux.close();
    },
  );
});

describe('a workbench worker thread terminated while a cell waits for it', () => {
  it('runs the waiting cell in a new context on the replacement thread, and tells it so: its globalThis is gone', async () => {
    const threads: Worker[] = [];
    // one thread at most: the waiting cell cannot move elsewhere before the thread ends
    const workers = new WorkbenchWorkers(1, 1, {
      spawn: (init) => {
        const thread = spawnWorkbenchThread(init);
        threads.push(thread);
        return thread;
      },
    });
    const pool = new WorkbenchPool({ workers });
    const config = { enable: true, timeoutMs: 5_000, memoryMb: 16, autoOffloadThreshold: 20_000 };
    const noHost = async () => null;
    await pool.run('ses_waits', 'globalThis.kept = 1', config, noHost);
    const loop = pool.run('ses_loops', 'while (true) {}', config, noHost);
    // the loop holds the thread; the other session's cell is posted behind it and not started
    await new Promise((resolve) => setTimeout(resolve, 300));
    const waiting = pool.run('ses_waits', 'return typeof globalThis.kept', config, noHost);
    // before the cell would move to another context by itself (WORKBENCH_SPILL_MS)
    await new Promise((resolve) => setTimeout(resolve, 50));
    await threads[0]?.terminate();
    expect((await loop).error?.code).toBe('WORKBENCH_WORKER_RESTARTED');
    const out = await waiting;
    expect(out.error, JSON.stringify(out.error)).toBeUndefined();
    expect(out.result).toBe('undefined');
    // on the old code the answer said nothing, nor did the session's next one
    expect(out.notice).toContain('worker was restarted');
    const next = await pool.run('ses_waits', 'globalThis.kept = 2; return 1', config, noHost);
    expect(next).toEqual({ result: 1, logs: [] });
    expect(threads).toHaveLength(2);
    await pool.close();
  });
});

describe('workbench worker threads that cannot start', () => {
  const config = { enable: true, timeoutMs: 5_000, memoryMb: 16, autoOffloadThreshold: 20_000 };
  const host = workbenchHost(
    {
      sessionId: 'ses_start',
      store: {} as never,
      execute: async () => ({ successful: true, data: 1, error: null, logId: '' }) as ToolResult,
      search: async () => ({}),
      proxy: async () => ({}) as never,
      clientTools: new Set(),
      metaTools: new Set(),
    },
    'log_start',
  );
  /** A thread whose module throws as it loads, as a broken install or a refused option would. */
  const broken = () => new Worker('throw new Error("cannot load the engine here")', { eval: true });
  /**
   * No thread at all: `new Worker` throws Node.js's ERR_WORKER_INIT_FAILED (EAGAIN), as in a process
   * at its limit of threads (here a stack the system cannot give).
   */
  const unmade = () => new Worker('', { eval: true, resourceLimits: { stackSizeMb: 1e9 } });

  it('cannot make the thread `unmade` asks for: Node.js refuses it (ERR_WORKER_INIT_FAILED: EAGAIN)', () => {
    expect(unmade).toThrow(expect.objectContaining({ code: 'ERR_WORKER_INIT_FAILED', message: 'EAGAIN' }));
  });

  /** A failed thread, then one that cannot be made, in turn: the second replaces the first in its event handler. */
  const inTurn = () => {
    let starts = 0;
    return () => (starts++ % 2 === 0 ? broken() : unmade());
  };
  describe.each([
    ['fails as it loads', () => broken, 'cannot load the engine here'],
    ['cannot be made', () => unmade, 'it could not be made: EAGAIN'],
    ['fails, then one that cannot be made', inTurn, 'cannot load the engine here'],
  ])('a thread that %s', (_, failures, reason) => {
    it('retries a thread that failed to start, and runs the cell once one starts', async () => {
      let starts = 0;
      const failure = failures();
      const workers = new WorkbenchWorkers(1, 1, {
        spawn: (init) => (++starts <= 2 ? failure() : spawnWorkbenchThread(init)),
      });
      const pool = new WorkbenchPool({ workers });
      const out = await pool.run('ses_start', 'return 6 * 7', config, host);
      expect(out).toEqual({ result: 42, logs: [] });
      expect(starts).toBe(3);
      pool.close();
    });

    it('ends the waiting cell with WORKBENCH_WORKER_RESTARTED and the reason after three failed starts; the next cell starts a thread again', async () => {
      let failing = true;
      let starts = 0;
      const threads: Worker[] = [];
      const failure = failures();
      const workers = new WorkbenchWorkers(1, 1, {
        spawn: (init) => {
          starts++;
          const thread = failing ? failure() : spawnWorkbenchThread(init);
          threads.push(thread);
          return thread;
        },
      });
      const pool = new WorkbenchPool({ workers });
      const failed = await pool.run('ses_start', 'return 1', config, host);
      expect(failed.error?.code).toBe('WORKBENCH_WORKER_RESTARTED');
      expect(failed.error?.message).toContain('could not start a worker thread');
      expect(failed.error?.message).toContain(reason);
      // Every failed thread has exited (the last one's 'exit' comes after its 'error'), and no
      // thread was started again meanwhile: nothing starts one until a cell needs it.
      await Promise.all(threads.map((thread) => (thread.threadId === -1 ? undefined : once(thread, 'exit'))));
      await new Promise((resolve) => setImmediate(resolve));
      expect(starts).toBe(3);
      failing = false;
      const next = await pool.run('ses_start', 'return 2', config, host);
      expect(next.result).toBe(2);
      expect(next.error).toBeUndefined();
      pool.close();
    });
  });
});
