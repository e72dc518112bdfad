import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { DEFAULT_WORKBENCH } from './config.js';
import { type CellLimits, type CellResult, Sandbox, type SandboxMonitor } from './sandbox.js';
import { CLAIMED, SHARED, type WorkerInit } from './shared-state.js';
import { SpareSandbox } from './spare.js';
import type { ToWorker } from './worker-pool.js';

/**
 * A workbench worker thread: it keeps the QuickJS contexts of many sessions and runs their cells, so
 * that model-written code never runs on the main thread. `toolmux.*` calls go to the main thread as
 * messages (arguments and replies as the sandbox's JSON text, passed through unparsed); while a cell
 * waits for a reply the worker sleeps on the shared memory and takes the reply at once when the main
 * thread wakes it, instead of a turn of its event loop.
 */
const init = workerData as WorkerInit | undefined;
if (!init?.port) throw new Error('The workbench worker runs only as a worker thread.');
const { port, base } = init;
const state = new Int32Array(init.shared);

/** How long the worker sleeps on the shared memory for replies before its event loop takes over. */
const SYNC_WAIT_MS = 5;
/**
 * With `TOOLMUX_WORKBENCH_SPIN_US` set (µs), replies that come back faster than that (a moving
 * average) are waited for spinning, not sleeping: a fast tool's reply then costs no thread wake-up,
 * for some CPU. Off by default (it takes CPU from other threads on a loaded machine).
 */
const SPIN_US = Math.max(0, Number(process.env.TOOLMUX_WORKBENCH_SPIN_US ?? 0) || 0);
/** Moving average of how long host calls take to come back (µs). */
let replyMicros = Number.POSITIVE_INFINITY;
const postedAt = new Map<number, number>();

const sandboxes = new Map<string, { sandbox: Sandbox; memoryMb: number }>();
/** Cells running, by run id, with their session: a `cancel` drops the session's context. */
const running = new Map<number, string>();
const waiting = new Map<number, (replyJson: string) => void>();
let nextCall = 0;
/** Sandboxes being made (they wait for file reads the event loop delivers: no sleeping then). */
let creating = 0;
let entry = 0;
/** Sandbox code runs synchronously now (between `enter` and `leave`). */
let inside = false;

const now = () => Date.now() - base;
const monitor: SandboxMonitor = {
  enter() {
    inside = true;
    entry = (entry + 1) & 0x3fff_ffff || 1;
    Atomics.store(state, SHARED.ENTRY, entry);
    const at = now();
    Atomics.store(state, SHARED.ENTERED_AT, at);
    Atomics.store(state, SHARED.BEAT, at);
    Atomics.store(state, SHARED.BUSY, 1);
  },
  leave() {
    inside = false;
    Atomics.store(state, SHARED.BUSY, 0);
    Atomics.store(state, SHARED.BEAT, now());
  },
  preempt() {
    Atomics.store(state, SHARED.BEAT, now());
    return inside && Atomics.load(state, SHARED.PREEMPT) === entry;
  },
};

function handle(message: ToWorker): void {
  switch (message.type) {
    case 'run':
      // The main thread may have taken the cell back (it waited too long behind another cell).
      if (
        Atomics.compareExchange(state, SHARED.CLAIMS + message.slot, message.runId, CLAIMED) !== message.runId
      )
        return;
      void run(message);
      break;
    case 'reply': {
      const settle = waiting.get(message.callId);
      waiting.delete(message.callId);
      const posted = postedAt.get(message.callId);
      if (posted !== undefined) {
        postedAt.delete(message.callId);
        const micros = (performance.now() - posted) * 1000;
        replyMicros = Number.isFinite(replyMicros) ? replyMicros * 0.75 + micros * 0.25 : micros;
      }
      settle?.(message.json);
      break;
    }
    case 'dispose':
      sandboxes.get(message.sessionId)?.sandbox.dispose();
      sandboxes.delete(message.sessionId);
      break;
    case 'cancel': {
      const sessionId = running.get(message.runId);
      if (sessionId === undefined) break;
      sandboxes.get(sessionId)?.sandbox.dispose();
      sandboxes.delete(sessionId);
      break;
    }
    case 'fail':
      // A test hook of the worker-replacement backstop (`WorkbenchWorkers.failWorkerForTest`).
      if (message.how === 'exit') process.exit(1);
      if (message.how === 'hang') for (;;) {}
      setImmediate(() => {
        throw new Error('A workbench worker failed on purpose (test).');
      });
      break;
  }
}

/** Makes a sandbox (waits for file reads the event loop delivers: no sleeping then). */
async function createSandbox(memoryMb: number): Promise<Sandbox> {
  creating++;
  try {
    return await Sandbox.create(memoryMb, monitor);
  } finally {
    creating--;
  }
}

/** The sandbox the next new context takes, made while no cell runs here. */
const spare = new SpareSandbox(createSandbox, () => running.size === 0);

port.on('message', handle);
port.postMessage({ type: 'ready' });
spare.want(DEFAULT_WORKBENCH.memoryMb);

let scheduled = false;
/** After a host call is posted: sleep on the shared memory for replies, up to `SYNC_WAIT_MS`. */
function scheduleWait(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(waitForReplies);
}

function waitForReplies(): void {
  scheduled = false;
  if (waiting.size === 0 || creating > 0) return;
  const until = performance.now() + SYNC_WAIT_MS;
  for (;;) {
    const seen = Atomics.load(state, SHARED.SEQ);
    let received = false;
    for (let message = receiveMessageOnPort(port); message; message = receiveMessageOnPort(port)) {
      handle(message.message as ToWorker);
      received = true;
    }
    // Finished cells posted their results already (`onEnd`): go on waiting while replies are due.
    if (received) {
      if (waiting.size === 0) return;
      continue;
    }
    if (SPIN_US > 0 && replyMicros < SPIN_US) {
      const spinUntil = performance.now() + SPIN_US / 1000;
      while (Atomics.load(state, SHARED.SEQ) === seen && performance.now() < spinUntil) {}
      if (Atomics.load(state, SHARED.SEQ) !== seen) continue;
    }
    const left = until - performance.now();
    if (left <= 0) return;
    Atomics.wait(state, SHARED.SEQ, seen, left);
  }
}

async function run(message: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  let created = false;
  running.set(message.runId, message.sessionId);
  const calls: number[] = [];
  try {
    let held = sandboxes.get(message.sessionId);
    if (message.fresh || !held || held.sandbox.disposed || held.memoryMb !== message.memoryMb) {
      held?.sandbox.dispose();
      const sandbox = (await spare.take(message.memoryMb)) ?? (await createSandbox(message.memoryMb));
      held = { sandbox, memoryMb: message.memoryMb };
      sandboxes.set(message.sessionId, held);
      created = true;
    }
    const sandbox = held.sandbox;
    const limits: CellLimits = { ...message.limits, deadline: message.deadline };
    let posted = false;
    const post = (result: CellResult) => {
      if (posted) return;
      posted = true;
      if (sandbox.disposed && sandboxes.get(message.sessionId) === held) sandboxes.delete(message.sessionId);
      port.postMessage({ type: 'result', runId: message.runId, result, disposed: sandbox.disposed, created });
    };
    const result = await sandbox.runRaw(
      message.code,
      (operation, argsJson, done) => {
        const callId = nextCall++;
        calls.push(callId);
        waiting.set(callId, done);
        postedAt.set(callId, performance.now());
        port.postMessage({ type: 'host', runId: message.runId, callId, operation, argsJson });
        scheduleWait();
      },
      limits,
      post,
    );
    post(result);
  } catch (error) {
    sandboxes.delete(message.sessionId);
    port.postMessage({
      type: 'result',
      runId: message.runId,
      result: {
        result: null,
        logs: [],
        error: {
          code: 'WORKBENCH_MEMORY_LIMIT',
          message: `The workbench could not run the code: ${error instanceof Error ? error.message : String(error)}`,
        },
      },
      disposed: true,
      created,
    });
  } finally {
    running.delete(message.runId);
    // Replies still on their way belong to a cell that is over.
    for (const callId of calls) {
      waiting.delete(callId);
      postedAt.delete(callId);
    }
    if (running.size === 0) spare.refill();
  }
}
