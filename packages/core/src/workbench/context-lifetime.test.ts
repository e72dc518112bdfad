import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { ToolResult } from '../execution/result.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import type { Session } from '../session.js';
import { gateToolkit } from '../test/gate-tool.js';
import { ToolMux } from '../toolmux.js';
import { workbenchHost } from './host.js';
import { type CellRunner, MainThreadCells } from './main-thread.js';
import { SANDBOX_SLICING_AVAILABLE } from './sandbox.js';
import { SHARED, SHARED_LENGTH } from './shared-state.js';
import { WorkbenchPool } from './workbench.js';
import {
  type FromWorker,
  type RunMessage,
  spawnWorkbenchThread,
  type ToWorker,
  WorkbenchWorkers,
} from './worker-pool.js';

const quiet = { debug() {}, warn() {}, error() {} };
const config = { enable: true, timeoutMs: 20_000, memoryMb: 16, autoOffloadThreshold: 20_000 };

/** A tool call of a cell that the test answers when it wants (by slug), or never. */
function gatedHost(sessionId: string) {
  const calls: Array<{ slug: string; answer: (data: unknown) => void }> = [];
  const waiters: Array<() => void> = [];
  const host = workbenchHost(
    {
      sessionId,
      store: {} as never,
      execute: (slug) =>
        new Promise<ToolResult>((resolve) => {
          calls.push({
            slug,
            answer: (data) => resolve({ successful: true, data, error: null } as ToolResult),
          });
          for (const wake of waiters.splice(0)) wake();
        }),
      search: async () => ({}),
      proxy: async () => ({}) as never,
      clientTools: new Set(),
      metaTools: new Set(),
    },
    `log_${sessionId}`,
  );
  /** Resolves with the call of `slug` once the cell made it. */
  const called = async (slug: string) => {
    for (;;) {
      const call = calls.find((each) => each.slug === slug);
      if (call) return call;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { host, called };
}

function message(sessionId: string, code: string, timeoutMs = config.timeoutMs): RunMessage {
  return {
    sessionId,
    code,
    memoryMb: config.memoryMb,
    fresh: false,
    limits: { timeoutMs, maxOutputChars: 100_000, maxToolCalls: 1_000 },
  };
}

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
};

/**
 * One worker thread (at most) behind a relay: the test holds the messages to the worker, or from it,
 * that `hold` picks, and hands the held ones to the worker later, one at a time, each in a turn of
 * its own.
 */
function relayedWorkers() {
  const held: ToWorker[] = [];
  const heldFromWorker: FromWorker[] = [];
  const hold = {
    toWorker: (_message: ToWorker) => false,
    fromWorker: (_message: FromWorker) => false,
  };
  /** Each thread started, in order: its shared memory, and the ports on the relay's two sides. */
  const threads: Array<{ state: Int32Array; toWorker: MessagePort; toPool: MessagePort }> = [];
  /** The thread each held message was meant for (a replaced thread's never reach its replacement). */
  const heldFor = new Map<ToWorker | FromWorker, MessagePort>();
  const workers = new WorkbenchWorkers(1, 1, {
    spawn: (init) => {
      const relay = new MessageChannel();
      const toWorker = relay.port1;
      threads.push({ state: new Int32Array(init.shared), toWorker, toPool: init.port });
      init.port.on('message', (each: ToWorker) => {
        if (!hold.toWorker(each)) return toWorker.postMessage(each);
        held.push(each);
        heldFor.set(each, toWorker);
      });
      relay.port1.on('message', (each: FromWorker) => {
        if (!hold.fromWorker(each)) return init.port.postMessage(each);
        heldFromWorker.push(each);
        heldFor.set(each, init.port);
      });
      init.port.unref();
      relay.port1.unref();
      return spawnWorkbenchThread({ ...init, port: relay.port2 });
    },
  });
  const deliver = async () => {
    for (const each of held.splice(0)) {
      heldFor.get(each)?.postMessage(each);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  /** Hands the held messages from the worker to the pool, all in one go. */
  const deliverFromWorker = () => {
    for (const each of heldFromWorker.splice(0)) heldFor.get(each)?.postMessage(each);
  };
  return { workers, held, heldFromWorker, hold, deliver, deliverFromWorker, threads };
}

/** The result message of a run the test posts itself (`probe`), from the worker. */
const probeRunId = 0x3fff_fff0;

describe('workbench worker threads behind a relay that delays messages', () => {
  it('a cell taken back from a busy worker and posted to it again starts only from its new posting: the old message, delivered late, neither starts it nor lets the dispose meant for that posting end it', async () => {
    const { workers, held, hold, deliver } = relayedWorkers();
    // Session L computes, so the worker is busy, then waits for a tool: its slot stays taken while
    // the worker is free again.
    const looping = gatedHost('L');
    const loopCell = workers.run(
      message(
        'L',
        `await toolmux.execute('STARTED', {});
         const end = Date.now() + 700; while (Date.now() < end) {}
         return (await toolmux.execute('WAIT', {})).data;`,
      ),
      looping.host,
    );
    (await looping.called('STARTED')).answer(null);
    hold.toWorker = (each) => each.type !== 'reply';
    // Session S's cell goes to the busy worker (the only one), is taken back after the spill time
    // (its context there is dropped), and posted again once the worker is free: into the same slot.
    const other = gatedHost('S');
    // 8 s: on the old code its first posting started it, the dispose dropped its context under it, and
    // it ended at this deadline with WORKBENCH_TIMEOUT
    const cell = workers.run(
      message('S', `return (await toolmux.execute('SLOW', {})).data;`, 8_000),
      other.host,
    );
    await until(() => held.filter((each) => each.type === 'run').length === 2);
    expect(held.map((each) => each.type)).toEqual(['run', 'dispose', 'run']);
    const [first, , second] = held as Array<Extract<ToWorker, { type: 'run' }>>;
    expect(second!.runId).toBe(first!.runId);
    expect(second!.slot).toBe(first!.slot);
    // Delivered one by one: the old posting first, then the dispose meant for it, then the new one.
    hold.toWorker = () => false;
    await deliver();
    (await other.called('SLOW')).answer('done');
    (await looping.called('WAIT')).answer('waited');
    const outcome = await cell;
    expect(outcome.result.error, JSON.stringify(outcome.result.error)).toBeUndefined();
    expect(outcome.result.result).toBe('done');
    expect((await loopCell).result.result).toBe('waited');
  });

  it('a cell whose worker is alive but late past the deadline + grace ends alone: the worker is not replaced, and other sessions keep their contexts', async () => {
    const { workers, hold } = relayedWorkers();
    const bystander = gatedHost('B');
    expect(
      (await workers.run(message('B', "globalThis.kept = 'b'; return 1"), bystander.host)).result.result,
    ).toBe(1);
    // the worker ends A's cell at its deadline, but its answer is held: the worker is alive (its
    // event loop beats) and not computing, only its answer is late
    hold.fromWorker = (each) => each.type === 'result';
    const late = gatedHost('A');
    const out = await workers.run(
      message('A', "return (await toolmux.execute('NEVER', {})).data", 300),
      late.host,
    );
    hold.fromWorker = () => false;
    expect(out.result.error?.code).toBe('WORKBENCH_TIMEOUT');
    expect(out.result.error?.message).toContain('too slow on a loaded machine');
    expect(out.disposed).toBe(true);
    // the bystander's context lived on in the same worker (a replaced worker would have lost it)
    const after = await workers.run(message('B', 'return globalThis.kept'), bystander.host);
    expect(after.result.error).toBeUndefined();
    expect(after.result.result).toBe('b');
  });
});

describe('a workbench worker thread told to drop a context while it makes it', () => {
  it('does not run the cell in it: the cell ends with WORKBENCH_CONTEXT_DROPPED', async () => {
    const channel = new MessageChannel();
    const shared = new SharedArrayBuffer(SHARED_LENGTH * Int32Array.BYTES_PER_ELEMENT);
    const state = new Int32Array(shared);
    const thread = spawnWorkbenchThread({ port: channel.port2, shared, base: Date.now() });
    try {
      const port = channel.port1;
      const messages: FromWorker[] = [];
      let wake = () => {};
      port.on('message', (each: FromWorker) => {
        messages.push(each);
        wake();
      });
      const next = async (type: FromWorker['type']) => {
        for (;;) {
          const found = messages.find((each) => each.type === type);
          if (found) return found;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      };
      const slot = 0;
      const claim = 7;
      Atomics.store(state, SHARED.CLAIMS + slot, claim);
      const post = (each: ToWorker) => {
        port.postMessage(each);
        Atomics.add(state, SHARED.SEQ, 1);
        Atomics.notify(state, SHARED.SEQ);
      };
      // Both before the thread listens (they wait in its port): it takes them in one go once its
      // modules are loaded, so the dispose comes while the cell's context is being made (the thread's
      // first context loads and compiles the engine: file reads and a compile, turns of its event
      // loop). On the old code the dispose found no context yet, and the cell ran.
      post({
        type: 'run',
        runId: 1,
        slot,
        claim,
        deadline: Date.now() + 10_000,
        postedAt: Date.now(),
        ...message('ses_raw', "return 'ran'"),
      });
      post({ type: 'dispose', sessionId: 'ses_raw', why: 'the test dropped it' });
      const result = (await next('result')) as Extract<FromWorker, { type: 'result' }>;
      expect(result.result.error?.code, JSON.stringify(result.result)).toBe('WORKBENCH_CONTEXT_DROPPED');
      expect(result.result.error?.message).toContain('the test dropped it');
      expect(result.disposed).toBe(true);
      // the session has no context left in the worker: its next cell makes a new one
      Atomics.store(state, SHARED.CLAIMS + slot, claim + 1);
      post({
        type: 'run',
        runId: 2,
        slot,
        claim: claim + 1,
        deadline: Date.now() + 10_000,
        postedAt: Date.now(),
        ...message('ses_raw', "return 'second'"),
      });
      const second = await (async () => {
        for (;;) {
          const found = messages.find((each) => each.type === 'result' && each.runId === 2);
          if (found) return found as Extract<FromWorker, { type: 'result' }>;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      })();
      expect(second.result.result).toBe('second');
      expect(second.created).toBe(true);
    } finally {
      channel.port1.close();
      await thread.terminate();
    }
  });
});

describe('worker races behind the relay', () => {
  it('a cell the main thread ends past its deadline while the worker’s result is on its way ends once (WORKBENCH_TIMEOUT): the late result is ignored, the cancel that reaches the worker after it sent the result still drops the context there, and the session’s next cell works', async () => {
    const { workers, hold, heldFromWorker, deliverFromWorker, threads } = relayedWorkers();
    const a = gatedHost('A');
    let runId = 0;
    hold.toWorker = (each) => {
      if (each.type === 'run' && each.sessionId === 'A') runId = each.runId;
      return false;
    };
    // the worker runs the cell at once and sends its result, which the relay holds: to the main
    // thread the worker is alive (its heartbeat beats) and late
    hold.fromWorker = (each) => each.type === 'result' && each.runId === runId;
    const outcomes: unknown[] = [];
    const out = await workers
      .run(message('A', "globalThis.kept = 'stale'; return 'done'", 300), a.host)
      .then((each) => {
        outcomes.push(each);
        return each;
      });
    expect(heldFromWorker.map((each) => each.type)).toEqual(['result']);
    expect(out.result.error?.code).toBe('WORKBENCH_TIMEOUT');
    expect(out.disposed).toBe(true);
    // the result reaches the main thread after the cell ended: nothing settles twice
    hold.fromWorker = () => false;
    deliverFromWorker();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(outcomes).toHaveLength(1);
    expect(workers.holds('A')).toBe(false);
    // Does the worker still hold A's context? A run posted by the test (behind the cancel, on the
    // same port), not fresh: a context left there answers 'stale'. The main thread forgot it, so
    // no later message would ever drop it (a context of memoryMb leaked until the process ends).
    const thread = threads[0]!;
    const probeSlot = 1_000;
    Atomics.store(thread.state, SHARED.CLAIMS + probeSlot, 99);
    const probeResult = new Promise<Extract<FromWorker, { type: 'result' }>>((resolve) => {
      hold.fromWorker = (each) => {
        if (each.type !== 'result' || each.runId !== probeRunId) return false;
        resolve(each);
        return true;
      };
    });
    thread.toWorker.postMessage({
      type: 'run',
      runId: probeRunId,
      slot: probeSlot,
      claim: 99,
      deadline: Date.now() + 10_000,
      postedAt: Date.now(),
      ...message('A', 'return globalThis.kept ?? null'),
    } satisfies ToWorker);
    const probe = await probeResult;
    hold.fromWorker = () => false;
    expect(probe.result.result, JSON.stringify(probe.result)).toBeNull();
    expect(probe.created).toBe(true);
    // the session's next cell runs (in a new context: its globalThis was reset with the timeout)
    const next = await workers.run(message('A', 'return globalThis.kept ?? 2'), a.host);
    expect(next.result.error, JSON.stringify(next.result.error)).toBeUndefined();
    expect(next.result.result).toBe(2);
  });

  it('a tool call that a cell made before its context was dropped, and that reaches the main thread after the drop, runs no tool: the call is answered WORKBENCH_CONTEXT_DROPPED and the cell ends with it', async () => {
    const { workers, hold, heldFromWorker, deliverFromWorker } = relayedWorkers();
    const executed: string[] = [];
    const gated = gatedHost('A');
    const host: typeof gated.host = (operation, args, signal) => {
      executed.push((args as { slug?: string } | null)?.slug ?? operation);
      return gated.host(operation, args, signal);
    };
    const cell = workers.run(
      message(
        'A',
        `await toolmux.execute('FIRST', {});
         try { await toolmux.execute('SECOND', {}); } catch (error) { return 'second: ' + error.code; }
         return 'second ran';`,
      ),
      host,
    );
    const first = await gated.called('FIRST');
    // the worker's call of SECOND is held on its way to the main thread, and the drop comes first
    hold.fromWorker = (each) => each.type === 'host';
    first.answer(null);
    await until(() => heldFromWorker.length === 1);
    workers.dispose('A', 'the test dropped it');
    hold.fromWorker = () => false;
    deliverFromWorker();
    const out = await cell;
    // on the old code the main thread ran SECOND for a session whose context it had dropped
    expect(executed).toEqual(['FIRST']);
    expect(out.result.error?.code, JSON.stringify(out.result)).toBe('WORKBENCH_CONTEXT_DROPPED');
    expect(out.disposed).toBe(true);
  });

  it('a replaced worker’s calls, replies and result are ignored: a reply to its cell’s tool call is not posted to the replacement (whose call ids start again at 0), its late messages settle no cell of the replacement, and the replacement’s sessions work', async () => {
    const { workers, hold, threads } = relayedWorkers();
    const a = gatedHost('A');
    const b = gatedHost('B');
    let executed = 0;
    const countingB: typeof b.host = (operation, args, signal) => {
      executed++;
      return b.host(operation, args, signal);
    };
    const runIds = new Map<string, number>();
    hold.toWorker = (each) => {
      if (each.type === 'run') runIds.set(each.sessionId, each.runId);
      return false;
    };
    // A's cell waits for its tool call (call id 0 of the first thread)
    const cellA = workers.run(message('A', "return (await toolmux.execute('A_CALL', {})).data"), a.host);
    const callA = await a.called('A_CALL');
    expect(workers.failWorkerForTest((key) => key === 'A', 'exit')).toBe(true);
    const outA = await cellA;
    expect(outA.result.error?.code).toBe('WORKBENCH_WORKER_RESTARTED');
    await until(() => threads.length === 2);
    // B's cell on the replacement waits for its tool call: call id 0 of the second thread
    let settled = false;
    const cellB = workers
      .run(message('B', "return (await toolmux.execute('B_CALL', {})).data"), countingB)
      .finally(() => {
        settled = true;
      });
    const callB = await b.called('B_CALL');
    expect(executed).toBe(1);
    // A's tool answers now: its reply is for a cell that ended, in a thread that is gone
    callA.answer('reply meant for A');
    // what the first thread had sent before it ended, arriving late: a tool call of A's cell, and
    // a result under the id of B's run
    const old = threads[0]!.toPool;
    old.postMessage({
      type: 'host',
      runId: runIds.get('A')!,
      calls: [1, 'execute', '{}'],
    } satisfies FromWorker);
    old.postMessage({
      type: 'result',
      runId: runIds.get('B')!,
      result: { result: 'result of the replaced thread', logs: [] },
      disposed: false,
      created: false,
    } satisfies FromWorker);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false);
    expect(executed).toBe(1);
    callB.answer('answer for B');
    const outB = await cellB;
    expect(outB.result.error, JSON.stringify(outB.result.error)).toBeUndefined();
    expect(outB.result.result).toBe('answer for B');
    const again = await workers.run(message('B', 'return 3'), b.host);
    expect(again.result.result).toBe(3);
  });
});

const runners: Array<[string, () => CellRunner]> = [['worker threads', () => new WorkbenchWorkers(1, 1)]];
if (SANDBOX_SLICING_AVAILABLE) runners.push(['the main thread', () => new MainThreadCells()]);

describe.each(runners)('a context dropped while its cell runs (%s)', (_name, runner) => {
  it('ends the cell at once with WORKBENCH_CONTEXT_DROPPED (not at its deadline)', async () => {
    const pool = new WorkbenchPool({ workers: runner() });
    const { host, called } = gatedHost('ses_dropped');
    const cell = pool.run('ses_dropped', `return (await toolmux.execute('NEVER', {})).data;`, config, host);
    // the tool is never answered: only the drop can end the cell before its 20 s
    await called('NEVER');
    pool.evict('ses_dropped');
    const out = await cell;
    expect(out.error?.code).toBe('WORKBENCH_CONTEXT_DROPPED');
    expect(out.error?.message).toContain('dropped while it ran');
    pool.close();
  });

  it.each([
    ['a cell that computes', 'while (true) {}', 'WORKBENCH_CONTEXT_DROPPED'],
    ['code its last cell left computing', '(async () => { for (;;) await null; })(); return 1', undefined],
  ])('stops %s at once (not at its deadline)', async (_what, code, error) => {
    const cells = runner();
    const pool = new WorkbenchPool({ workers: cells });
    const noHost = async () => null;
    await pool.run('ses_computes', 'globalThis.kept = 1', config, noHost);
    const started = Date.now();
    const cell = pool.run('ses_computes', code, config, noHost);
    // the code computes (in a worker thread, the thread is held by it: no message gets there)
    await new Promise((resolve) => setTimeout(resolve, 300));
    pool.evict('ses_computes', 'the session was deleted.', 'its session was deleted');
    const out = await cell;
    expect(out.error?.code, JSON.stringify(out)).toBe(error);
    if (error) expect(out.error?.message).toContain('its session was deleted');
    // another session's cell runs at once, well within its 500 ms: the code no longer holds the
    // thread (on the old code, in worker threads, it computed on for its 20 s, and the other cell
    // did not start in time)
    const other = await pool.run('ses_after', 'return 2', { ...config, timeoutMs: 500 }, noHost);
    expect(other.error, JSON.stringify(other.error)).toBeUndefined();
    expect(other.result).toBe(2);
    expect(Date.now() - started).toBeLessThan(3_000);
    await pool.close();
  });

  it('drops a context being made (the session’s first cell, or a new context): the cell ends with WORKBENCH_CONTEXT_DROPPED without running in it', async () => {
    const cells = runner();
    for (const warm of [false, true]) {
      // cold: a worker thread still starting (the cell waits for it); warm: a running one
      if (warm) {
        const before = await cells.run(message('ses_warm', 'return 1'), gatedHost('ses_warm').host);
        expect(before.result.error, JSON.stringify(before.result.error)).toBeUndefined();
      }
      const key = `ses_making_${warm}`;
      let called = 0;
      const { host } = gatedHost(key);
      const counting: typeof host = (operation, args, signal) => {
        called++;
        return host(operation, args, signal);
      };
      // 24 MB: no spare context of that size (a worker's spare has the size its last new context
      // had, 64 or 16 MB here), so the new one is made, over turns of the event loop, when the drop
      // comes. 5 s: on the old code the cell ran, waiting for the tool, until this deadline.
      const running = cells.run(
        { ...message(key, `await toolmux.execute('NEVER', {}); return 'ran'`, 5_000), memoryMb: 24 },
        counting,
      );
      cells.dispose(key, 'the test dropped it');
      const out = await running;
      // on the old code the context was made after the drop and the cell ran in it (until its deadline)
      expect(out.result.error?.code, JSON.stringify(out.result)).toBe('WORKBENCH_CONTEXT_DROPPED');
      expect(out.result.error?.message).toContain('the test dropped it');
      expect(out.disposed).toBe(true);
      expect(called).toBe(0);
      expect(cells.holds(key)).toBe(false);
    }
  });

  it('does not run the cells its session queued behind the running one once the session is deleted', async () => {
    const pool = new WorkbenchPool({ workers: runner() });
    const { host, called } = gatedHost('ses_queue');
    const first = pool.run('ses_queue', `return (await toolmux.execute('NEVER', {})).data;`, config, host);
    const second = pool.run('ses_queue', `return 'second ran'`, config, host);
    await called('NEVER');
    pool.evict('ses_queue', 'the session was deleted.', 'its session was deleted');
    expect((await first).error?.code).toBe('WORKBENCH_CONTEXT_DROPPED');
    // on the old code it ran, in a new context, after the deletion
    const out = await second;
    expect(out.error?.code, JSON.stringify(out)).toBe('WORKBENCH_CONTEXT_DROPPED');
    expect(out.result).toBeNull();
    pool.close();
  });

  it('is never chosen to make room for another context, nor evicted as idle, while its cell runs', async () => {
    const pool = new WorkbenchPool({ workers: runner(), maxContexts: 1, idleMs: 0 });
    const first = gatedHost('ses_first');
    const running = pool.run(
      'ses_first',
      `globalThis.kept = 'yes'; return (await toolmux.execute('WAIT', {})).data + ':' + globalThis.kept;`,
      config,
      first.host,
    );
    const call = await first.called('WAIT');
    // a second context takes the pool over its maximum, and the sweep finds every context idle
    const second = gatedHost('ses_second');
    expect((await pool.run('ses_second', 'return 2', config, second.host)).result).toBe(2);
    pool.sweep(Date.now() + 60_000);
    call.answer('answered');
    const out = await running;
    expect(out.error, JSON.stringify(out.error)).toBeUndefined();
    expect(out.result).toBe('answered:yes');
    pool.close();
  });
});

describe.each(runners)('code a cell left running after it returned (%s)', (_name, runner) => {
  const noHost = async () => null;

  it.each([
    ['an async loop', '(async () => { for (;;) await null; })()'],
    [
      'a loop in a later promise job',
      'let p = Promise.resolve(); for (let i = 0; i < 5; i++) p = p.then(() => {}); p.then(() => { for (;;) {} })',
    ],
  ])(
    'stops at its deadline (%s): the session’s next cell waits for it, in the same context, and that wait is not its time',
    async (_what, left) => {
      const pool = new WorkbenchPool({ workers: runner() });
      const config = { enable: true, timeoutMs: 500, memoryMb: 32, autoOffloadThreshold: 20_000 };
      await pool.run('ses_left', 'globalThis.kept = 1', config, noHost);
      expect(await pool.run('ses_left', `${left}; return 2`, config, noHost)).toEqual({
        result: 2,
        logs: [],
      });
      // it waits for what the last cell left running (up to that cell's deadline), not for ever;
      // then it computes for 300 of its own 500 ms, which it would not have if the wait counted
      const started = Date.now();
      const next = await pool.run(
        'ses_left',
        'const until = Date.now() + 300; while (Date.now() < until) {} return globalThis.kept',
        config,
        noHost,
      );
      expect(Date.now() - started).toBeLessThan(2_500);
      // the code was stopped as a rejection of its promise chain: the context stays (in worker
      // threads, on the old code, the cell moved to a new context: its globalThis was gone)
      expect(next).toEqual({ result: 1, logs: [] });
      await pool.close();
    },
  );

  it.each([
    ['while it runs', 0, 50],
    ['after it ended', 300, 50],
    // ended in the engine entry that answered the cell, before the runner looked at the engine
    ['after it ended in the turn the cell answered', 0, 0],
  ])(
    'that ends its engine (a value nested too deeply for the stack): the next cell, asked %s, has a new context, and is told why',
    async (_when, after, computeMs) => {
      const pool = new WorkbenchPool({ workers: runner() });
      const config = { enable: true, timeoutMs: 2_000, memoryMb: 32, autoOffloadThreshold: 20_000 };
      await pool.run('ses_left_end', 'globalThis.kept = 1', config, noHost);
      const left = await pool.run(
        'ses_left_end',
        `(async () => {
           for (let i = 0; i < 5; i++) await null;
           const until = Date.now() + ${computeMs};
           while (Date.now() < until) {}
           JSON.stringify(eval('['.repeat(100000) + ']'.repeat(100000)));
         })();
         return 2`,
        config,
        noHost,
      );
      expect(left).toEqual({ result: 2, logs: [] });
      await new Promise((resolve) => setTimeout(resolve, after));
      const next = await pool.run('ses_left_end', 'return typeof globalThis.kept', config, noHost);
      expect(next.error).toBeUndefined();
      expect(next.result).toBe('undefined');
      // on the old code: no notice in worker threads; "its worker was restarted" on the main thread
      expect(next.notice).toContain('left running after it returned');
      await pool.close();
    },
  );
});

describe('deleting a session while its workbench cell runs', () => {
  it.each([
    ['session.delete()', async (_mux: ToolMux, session: Session) => session.delete()],
    [
      'mux.sessions.delete(id)',
      async (mux: ToolMux, session: Session) => mux.sessions.delete(session.sessionId),
    ],
  ])(
    '%s ends the cell at once with WORKBENCH_CONTEXT_DROPPED: the deleted session’s code does not run on',
    async (_name, remove) => {
      const { toolkit: gate, release, called } = gateToolkit();
      const mux = new ToolMux({ toolkits: [gate], store: ':memory:', logger: quiet });
      // 5 s: on the old code the cell ran on, waiting for the tool, and ended at this deadline
      const session = await mux.create('user_1', { toolkits: ['gate'], workbench: { timeoutMs: 5_000 } });
      const cell = session.execute(MetaToolSlug.WORKBENCH, {
        code: "await toolmux.execute('GATE_WAIT', {}); return 'ran on'",
      });
      await called;
      await remove(mux, session);
      // the tool is still waiting: only the deletion can end the cell now
      const out = (await cell).data as { result: unknown; error?: { code: string } };
      release();
      expect(out.error?.code).toBe('WORKBENCH_CONTEXT_DROPPED');
      expect(out.result).toBeNull();
      await mux.close();
    },
  );
});
