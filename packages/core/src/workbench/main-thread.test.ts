import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToolResult } from '../execution/result.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { expectCellLogsCommittedTogether } from '../test/log-batches.js';
import { longestTurn, turnReport } from '../test/longest-turn.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { MainThreadCells, sharedCellRunner, workbenchThread } from './main-thread.js';
import { type CellLimits, SANDBOX_SLICING_AVAILABLE, Sandbox, type SandboxHostCall } from './sandbox.js';
import { MainThreadSlices } from './slices.js';
import { WorkbenchPool } from './workbench.js';
import { sharedWorkbenchWorkers, WorkbenchWorkers } from './worker-pool.js';

const quiet = { debug() {}, warn() {}, error() {} };
type Cell = { result: unknown; logs: string[]; error?: { code: string; message: string }; notice?: string };
const cellOf = (result: ToolResult) => result.data as Cell;
const noHost: SandboxHostCall = async () => null;
// no test here is bounded by the clock unless it says so: a loaded machine takes seconds for work that
// takes milliseconds alone (a cell that builds a 10 MB string timed out at 2 s in CI)
const limits: CellLimits = { timeoutMs: 30_000, maxOutputChars: 10_000, maxToolCalls: 10 };

/**
 * Counts how many times a 1 ms interval fired while `work` ran: the event loop's turns meanwhile.
 * `cpuMs` is the thread's CPU time meanwhile: a loaded machine that takes the CPU from the process
 * stretches the wall time (`ms`) without a turn being owed.
 */
async function turnsDuring<T>(
  work: () => Promise<T>,
): Promise<{ value: T; turns: number; ms: number; cpuMs: number }> {
  let turns = 0;
  const interval = setInterval(() => turns++, 1);
  const started = performance.now();
  const cpu = process.threadCpuUsage();
  try {
    const value = await work();
    const used = process.threadCpuUsage(cpu);
    return { value, turns, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
  } finally {
    clearInterval(interval);
  }
}

describe.runIf(SANDBOX_SLICING_AVAILABLE)('workbench cells on the main thread, in time slices', () => {
  // The ToolMux cases here are about the main thread's slices: they run there even when the suite
  // runs with TOOLMUX_WORKBENCH_THREAD=workers (where other sessions' cells wait for a free worker).
  let thread: string | undefined;
  beforeAll(() => {
    thread = process.env.TOOLMUX_WORKBENCH_THREAD;
    process.env.TOOLMUX_WORKBENCH_THREAD = 'main';
  });
  afterAll(() => {
    if (thread === undefined) delete process.env.TOOLMUX_WORKBENCH_THREAD;
    else process.env.TOOLMUX_WORKBENCH_THREAD = thread;
  });

  it('is where cells run by default on this Node.js, and TOOLMUX_WORKBENCH_THREAD chooses', () => {
    const before = process.env.TOOLMUX_WORKBENCH_THREAD;
    try {
      delete process.env.TOOLMUX_WORKBENCH_THREAD;
      expect(workbenchThread()).toBe('main');
      expect(sharedCellRunner()).toBeInstanceOf(MainThreadCells);
      process.env.TOOLMUX_WORKBENCH_THREAD = 'workers';
      expect(workbenchThread()).toBe('workers');
      expect(sharedCellRunner()).toBeInstanceOf(WorkbenchWorkers);
      process.env.TOOLMUX_WORKBENCH_THREAD = 'threads';
      expect(() => workbenchThread()).toThrow(
        /TOOLMUX_WORKBENCH_THREAD must be "main" or "workers", got "threads"/,
      );
      // a typo fails when the ToolMux is made, with CONFIG_INVALID, not in every workbench call
      expect(() => new ToolMux({ toolkits: [], store: ':memory:', logger: quiet })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    } finally {
      if (before === undefined) delete process.env.TOOLMUX_WORKBENCH_THREAD;
      else process.env.TOOLMUX_WORKBENCH_THREAD = before;
    }
  });

  it('a cell that computes for long lets the event loop turn all the while, and ends at its deadline', async () => {
    const sandbox = await Sandbox.create(32, { slicer: new MainThreadSlices(1) });
    // 10 s: the turns are the point, not the speed (a loaded machine computes this slowly)
    const busy = await turnsDuring(() =>
      sandbox.run('let s = 0; for (let i = 0; i < 3e6; i++) s += i % 7; return s', noHost, {
        ...limits,
        timeoutMs: 10_000,
      }),
    );
    expect(busy.value.error).toBeUndefined();
    expect(busy.value.result).toBe(8999994);
    // a 1 ms interval keeps firing: the thread was never held for the whole computation
    // (one turn per 50 ms of the thread's CPU at least; wall time would also count the tens of ms
    // a loaded machine gives the CPU to other processes)
    expect(busy.turns).toBeGreaterThan(busy.cpuMs / 50);
    const loop = await turnsDuring(() =>
      sandbox.run('while (true) {}', noHost, { ...limits, timeoutMs: 400 }),
    );
    expect(loop.value.error?.code).toBe('WORKBENCH_TIMEOUT');
    expect(loop.ms).toBeLessThan(400 + 1_000);
    expect(loop.turns).toBeGreaterThan(loop.cpuMs / 50);
  });

  it('code that replaces what the prelude uses (prototypes, Error, JSON, a then getter) still ends, and never holds the thread', async () => {
    const slices = new MainThreadSlices(1);
    const host: SandboxHostCall = async (_operation, args) => ({ echoed: args });
    for (const poison of [
      // a getter on every object's `then`: resolving a promise with an object would run it
      'Object.defineProperty(Object.prototype, "then", { get() { for (;;) {} }, configurable: true });',
      'Array.prototype[Symbol.iterator] = function* () { for (;;) {} };',
      'Map.prototype.get = function () { for (;;) {} }; Map.prototype.set = Map.prototype.get;',
      'globalThis.Error = function () { for (;;) {} }; JSON.parse = () => { for (;;) {} };',
      'Object.defineProperty(Error.prototype, "code", { set() { for (;;) {} }, configurable: true });',
      'Object.defineProperty(Object.prototype, "0", { get() { for (;;) {} }, set() { for (;;) {} }, configurable: true });',
      // the lookup of an array's `then`: on Array.prototype, or through a proxy put behind it
      'Object.defineProperty(Array.prototype, "then", { get() { for (;;) {} }, configurable: true });',
      'Object.setPrototypeOf(Array.prototype, new Proxy(Object.create(null), { get() { for (;;) {} }, has() { for (;;) {} } }));',
    ]) {
      const sandbox = await Sandbox.create(32, { slicer: slices });
      const out = await turnsDuring(() =>
        sandbox.run(
          `${poison}
           const a = await toolmux.execute('X', { n: 1 });
           let b; try { await toolmux.execute('Y', {}) } catch (error) { b = 'caught' }
           const c = await toolmux.execute('Z', {});
           return [typeof a, b, c.length];`,
          async (operation, args, signal) =>
            (args as { slug: string }).slug === 'Y'
              ? Promise.reject(new Error('no Y'))
              : (args as { slug: string }).slug === 'Z'
                ? [1, 2]
                : host(operation, args, signal),
          { ...limits, timeoutMs: 500 },
        ),
      );
      // either the cell's own code loops (its getter runs inside the engine, where the interrupt
      // handler watches) and times out, or it completes: never a stalled thread
      expect(out.ms).toBeLessThan(500 + 1_000);
      expect(out.turns).toBeGreaterThanOrEqual(Math.floor(out.cpuMs / 50));
      if (out.value.error) expect(out.value.error.code).toBe('WORKBENCH_TIMEOUT');
      else expect(out.value.result).toEqual(['object', 'caught', 2]);
    }
  });

  it("settles a call's value without an entry that may suspend, unless settling it would run the code's own functions", async () => {
    const sandbox = await Sandbox.create(32, { slicer: new MainThreadSlices(1) });
    const host: SandboxHostCall = async (_operation, args) => {
      const { slug, args: input } = args as { slug: string; args: { n: number } };
      if (slug === 'FAIL') throw new Error('failed');
      return slug === 'LIST' ? [input.n] : { n: input.n };
    };
    const tenCalls = `let s = 0;
      for (let n = 0; n < 5; n++) s += (await toolmux.execute('X', { n })).n + (await toolmux.execute('LIST', { n }))[0];
      return s`;
    const entries = async (code: string) => {
      const before = sandbox.suspendableEntries;
      const out = await sandbox.run(code, host, limits);
      return { out, entries: sandbox.suspendableEntries - before };
    };
    // compiling the cell, starting it, and one run of its jobs after it started and after each
    // reply (one more where a slice ran out meanwhile): no entry of its own to settle a value
    const plain = await entries(tenCalls);
    expect(plain.out).toEqual({ result: 20, logs: [] });
    expect(plain.entries).toBeGreaterThanOrEqual(3 + 10);
    expect(plain.entries).toBeLessThanOrEqual(3 + 10 + 2);
    // a failure is settled as the code's own (its error is made in the engine, under the interrupt handler)
    const failed = await entries(
      "try { await toolmux.execute('FAIL', {}) } catch (error) { return error.message }",
    );
    expect(failed.out).toEqual({ result: 'failed', logs: [] });
    expect(failed.entries).toBeGreaterThanOrEqual(3 + 1 + 1);
    // a \`then\` the code put where a parsed value's lookup goes: each value is settled as the code's
    // own (the getter runs where the interrupt handler watches), and the getter runs for each
    for (const where of [
      'Object.prototype',
      'Array.prototype',
      'Object.setPrototypeOf(Array.prototype, new Proxy(Object.prototype, {})) && Object.getPrototypeOf(Array.prototype)',
    ]) {
      const sandbox2 = await Sandbox.create(32, { slicer: new MainThreadSlices(1) });
      const before = sandbox2.suspendableEntries;
      const out = await sandbox2.run(
        `let looked = 0;
         const target = ${where};
         Object.defineProperty(target, 'then', { get() { looked++; return undefined }, configurable: true });
         ${tenCalls.replace('return s', 'delete target.then; return [s, looked]')}`,
        host,
        limits,
      );
      expect(out.error).toBeUndefined();
      const [sum, looked] = out.result as number[];
      expect(sum).toBe(20);
      expect(looked).toBeGreaterThanOrEqual(where === 'Object.prototype' ? 10 : 5);
      expect(sandbox2.suspendableEntries - before).toBeGreaterThanOrEqual(3 + 10 + 10);
    }
  });

  it('slices are shared in turn: a short cell of one session ends while another session loops', async () => {
    const slices = new MainThreadSlices(1);
    const looping = await Sandbox.create(32, { slicer: slices });
    const other = await Sandbox.create(32, { slicer: slices });
    let loopEnded = false;
    const loop = looping.run('while (true) {}', noHost, { ...limits, timeoutMs: 1_500 }).then((out) => {
      loopEnded = true;
      return out;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const short = await other.run(
      'let s = 0; for (let i = 0; i < 2e5; i++) s += i; return s',
      noHost,
      limits,
    );
    expect(short.result).toBe(19999900000);
    expect(loopEnded).toBe(false);
    expect((await loop).error?.code).toBe('WORKBENCH_TIMEOUT');
    expect(slices.resumed).toBeGreaterThan(10);
  });

  it('100 sessions looping at once: loops end with WORKBENCH_TIMEOUT, ordinary calls and other cells go on, the event loop stays free', async () => {
    const sample = createSampleToolkits();
    const mux = new ToolMux({ toolkits: sample.toolkits, store: ':memory:', logger: quiet });
    const loopers = await Promise.all(
      Array.from({ length: 100 }, () => mux.create('user_loop', { workbench: { timeoutMs: 1_000 } })),
    );
    const ordinary = await mux.create('user_ok', { workbench: {} });
    await ordinary.execute(MetaToolSlug.WORKBENCH, { code: 'return 0' });
    let stormMs = 0;
    let callsDuring = 0;
    let cellsDuring = 0;
    const measured = await longestTurn(
      async () => {
        let loopsOver = false;
        const stormStart = performance.now();
        const allLoops = Promise.all(
          loopers.map((session) => session.execute(MetaToolSlug.WORKBENCH, { code: 'while (true) {}' })),
        ).then((results) => {
          loopsOver = true;
          stormMs = performance.now() - stormStart;
          return results;
        });
        const calls: ToolResult[] = [];
        const cells: ToolResult[] = [];
        for (let index = 0; index < 30; index++) {
          calls.push(await ordinary.execute('TASKS_CREATE_TASK', { title: `task ${index}` }));
          if (!loopsOver) callsDuring++;
          cells.push(
            await ordinary.execute(MetaToolSlug.WORKBENCH, {
              code: "return (await toolmux.execute('TASKS_LIST_TASKS', {})).data.tasks.length",
            }),
          );
          if (!loopsOver) cellsDuring++;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return { calls, cells, results: await allLoops };
      },
      500,
      1,
    );
    const { calls, cells, results } = measured.value;
    expect(results.map((result) => cellOf(result).error?.code)).toEqual(
      Array.from({ length: 100 }, () => 'WORKBENCH_TIMEOUT'),
    );
    // each within its limit + 1 s (those whose context could not be made in time did not start)
    expect(stormMs).toBeLessThan(1_000 + 1_000);
    expect(calls.every((call) => call.successful)).toBe(true);
    expect(cells.map((cell) => cellOf(cell).result)).toEqual(
      Array.from({ length: 30 }, (_, index) => index + 1),
    );
    // ordinary calls and another session's cells ran while the loops were still going
    // (a few are proof enough; a busy machine makes each round slower)
    expect(callsDuring).toBeGreaterThan(3);
    expect(cellsDuring).toBeGreaterThan(3);
    // no loop held the thread: the longest turn is far below a loop's 1 s (in this thread's CPU
    // time: a loaded machine stretches the event-loop delay, wall time, of a short turn)
    expect(measured.turnMs, turnReport(measured)).toBeLessThan(500);
    const after = await loopers[0]!.execute(MetaToolSlug.WORKBENCH, { code: 'return 1 + 1' });
    expect(cellOf(after).result).toBe(2);
    expect(cellOf(after).notice).toContain('WORKBENCH_TIMEOUT');
    await mux.close();
  });

  it('a cell’s tool calls answer it before their log entries commit; the cell answers after they all have', async () => {
    const sample = createSampleToolkits();
    const mux = new ToolMux({ toolkits: sample.toolkits, store: ':memory:', logger: quiet });
    const session = await mux.create('user_1', { workbench: {} });
    const cell = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `for (let i = 0; i < 5; i++) await toolmux.execute('TASKS_CREATE_TASK', { title: 't' + i });
             await toolmux.execute('NOT_A_TOOL', {});
             return 'ok'`,
    });
    expect(cellOf(cell).result).toBe('ok');
    // every inner entry is stored by the time the cell answered, each with the cell as its parent
    const inner = await session.logs({ parentId: cell.logId });
    expect(inner.items.map((entry) => entry.toolSlug).sort()).toEqual([
      'NOT_A_TOOL',
      ...Array.from({ length: 5 }, () => 'TASKS_CREATE_TASK'),
    ]);
    await mux.close();
  });

  it('a session whose code holds the thread in one built-in (a large sort) moves to worker threads, and is told', async () => {
    const cells = new MainThreadCells({ holdMs: 30 });
    const pool = new WorkbenchPool({ workers: cells });
    const config = { enable: true, timeoutMs: 20_000, memoryMb: 64, autoOffloadThreshold: 20_000 };
    const small = await pool.run('ses_sort', 'globalThis.kept = 1; return [3, 1, 2].sort()', config, noHost);
    expect(small.result).toEqual([1, 2, 3]);
    const sorted = await pool.run(
      'ses_sort',
      'const a = Array.from({ length: 2e5 }, (_, i) => (i * 7919) % 1000003); a.sort(); return a.length',
      config,
      noHost,
    );
    // the cell itself completes (the built-in could not be paused, but it ended)
    expect(sorted.error).toBeUndefined();
    expect(sorted.result).toBe(200_000);
    const next = await pool.run('ses_sort', 'return typeof globalThis.kept', config, noHost);
    expect(next.result).toBe('undefined');
    expect(next.notice).toContain('now runs in a worker thread');
    expect(sharedWorkbenchWorkers().workerIndexOf((key) => key.endsWith(':ses_sort'))).toBeGreaterThanOrEqual(
      0,
    );
    // it stays there, with its state
    await pool.run('ses_sort', 'globalThis.kept = 2', config, noHost);
    expect((await pool.run('ses_sort', 'return kept', config, noHost)).result).toBe(2);
    // held by code a cell left running after it returned: the session moves all the same
    const left = await pool.run(
      'ses_sort_left',
      `(async () => {
         for (let i = 0; i < 5; i++) await null;
         // computes past the cell's answer first (in slices), then holds the thread in one sort
         const until = Date.now() + 200;
         while (Date.now() < until) {}
         const a = Array.from({ length: 2e5 }, (_, i) => (i * 7919) % 1000003);
         a.sort();
       })();
       return 1`,
      config,
      noHost,
    );
    expect(left.result).toBe(1);
    const afterLeft = await pool.run('ses_sort_left', 'return 2', config, noHost);
    expect(afterLeft.result).toBe(2);
    expect(afterLeft.notice).toContain('now runs in a worker thread');
    // a session that only sorts small arrays stays on the main thread
    await pool.run('ses_small', 'return [2, 1].sort()', config, noHost);
    expect(sharedWorkbenchWorkers().workerIndexOf((key) => key.endsWith(':ses_small'))).toBe(-1);
    pool.close();
  }, 60_000);
});

describe.skipIf(!SANDBOX_SLICING_AVAILABLE)('a cell’s log entries (on the main thread)', () => {
  it('are committed together with the cell’s own entry, in one transaction, before the cell answers', () =>
    expectCellLogsCommittedTogether());
});

describe("a cell's calls in worker threads", () => {
  it("abort when the cell ends while they run or the caller aborts, not after they came back; no listener stays on the caller's signal", async () => {
    const workers = new WorkbenchWorkers(1, 1);
    const signals: AbortSignal[] = [];
    const host: SandboxHostCall = (_operation, args, signal) => {
      signals.push(signal);
      return (args as { slug: string }).slug === 'SLOW' ? new Promise(() => {}) : Promise.resolve(1);
    };
    const message = (code: string, fresh = false, timeoutMs = 2_000) => ({
      sessionId: 'calls',
      code,
      memoryMb: 32,
      fresh,
      limits: { timeoutMs, maxOutputChars: 10_000, maxToolCalls: 10 },
    });
    const caller = new AbortController();
    const done = await workers.run(
      message("return await toolmux.execute('FAST', {})", true),
      host,
      caller.signal,
    );
    expect(done.result.result).toBe(1);
    expect(signals[0]?.aborted).toBe(false);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    const left = await workers.run(message("toolmux.execute('SLOW', {}); return 2"), host);
    expect(left.result.result).toBe(2);
    expect(signals[1]?.aborted).toBe(true);
    const stop = new AbortController();
    const running = workers.run(
      message("await toolmux.execute('SLOW', {}); return 3", false, 300),
      host,
      stop.signal,
    );
    while (signals.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    stop.abort(new Error('caller gave up'));
    expect((signals[2]!.reason as Error).message).toBe('caller gave up');
    expect((await running).result.error?.code).toBe('WORKBENCH_TIMEOUT');
    workers.dispose('calls');
  });
});
