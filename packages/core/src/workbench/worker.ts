import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { quotedMessage } from '../errors.js';
import { DEFAULT_WORKBENCH } from './config.js';
import { workbenchEnvNumber } from './env.js';
import { type CellLimits, type CellResult, contextDropped, Sandbox, type SandboxMonitor } from './sandbox.js';
import {
  claimPosting,
  DEFAULT_SPIN_US,
  postingDropped,
  SHARED,
  WaitChooser,
  type WorkerInit,
} from './shared-state.js';
import { SpareSandbox } from './spare.js';
import type { FromWorker, ToWorker } from './worker-pool.js';

/**
 * A workbench worker thread: it keeps the QuickJS contexts of many sessions and runs their cells, so
 * that model-written code never runs on the main thread. `toolmux.*` calls go to the main thread as
 * messages (arguments and replies as the sandbox's JSON text, passed through unparsed; the calls a
 * cell makes in one go as one message); while a cell waits for a reply, and for a moment after a
 * cell, the worker waits on the shared memory and takes the next message at once when the main
 * thread posts it, instead of a turn of its event loop: spinning first while replies come back fast,
 * then asleep.
 */
const init = workerData as WorkerInit | undefined;
if (!init?.port) throw new Error('The workbench worker runs only as a worker thread.');
const { port, base } = init;
const state = new Int32Array(init.shared);

/**
 * How long the worker waits on the shared memory for messages (replies, or the next cell) before its
 * event loop takes over again; the event loop's timers wait at most this long.
 */
const SYNC_WAIT_MS = 5;
/**
 * The longest the worker spins for a reply before it sleeps (µs): it spins while that got replies
 * sooner than sleeping (see `WaitChooser`), so a fast tool's reply costs no thread wake-up.
 * `TOOLMUX_WORKBENCH_SPIN_US` sets it; 0 turns spinning off.
 */
const SPIN_US = workbenchEnvNumber('TOOLMUX_WORKBENCH_SPIN_US') ?? DEFAULT_SPIN_US;
const replyWait = new WaitChooser(SPIN_US);
/** How the worker waits now: spinning first (true), or asleep or in its event loop. */
let spinning = false;
/** When each call was posted (performance.now()), for `replyWait`. */
const postedAt = new Map<number, number>();

const sandboxes = new Map<string, { sandbox: Sandbox; memoryMb: number }>();
/**
 * Sessions whose new context is being made, with why it was dropped meanwhile (a `dispose` or
 * `cancel` came before it was made): the cell then does not run in it.
 */
const making = new Map<string, { dropped?: string }>();
/** Cells running, by run id. */
const running = new Set<number>();
const waiting = new Map<number, (replyJson: string) => void>();
let nextCall = 0;
/** Sandboxes being made (they wait for file reads the event loop delivers: no sleeping then). */
let creating = 0;
let entry = 0;
/** Sandbox code runs synchronously now (between `enter` and `leave`). */
let inside = false;

/**
 * The cell that answered last from inside the engine entry that runs now (`entry`), and when (epoch
 * ms): code it left running computes on in it (until its deadline). The engine marks it in
 * the shared memory once it checks in there after the answer (`SHARED.LEFTOVER`), so that the main
 * thread lets the session's next cell wait for it instead of moving it to another worker; that
 * cell's deadline then gets the time it waited (`run`).
 */
let answered: { sessionId: string; entry: number; at: number; marked: boolean } | undefined;
/**
 * Sessions whose last cell's code computed on after it answered (it was marked): when it answered
 * and when that code ended (epoch ms), for the session's next cell, which waited for it.
 */
const computedOn = new Map<string, { at: number; endedAt: number }>();

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
    if (answered?.entry === entry) {
      if (answered.marked) computedOn.set(answered.sessionId, { at: answered.at, endedAt: Date.now() });
      answered = undefined;
    }
    inside = false;
    Atomics.store(state, SHARED.BUSY, 0);
    Atomics.store(state, SHARED.BEAT, now());
  },
  preempt() {
    Atomics.store(state, SHARED.BEAT, now());
    if (inside && answered?.entry === entry && !answered.marked) {
      answered.marked = true;
      Atomics.store(state, SHARED.LEFTOVER, entry);
    }
    return inside && Atomics.load(state, SHARED.PREEMPT) === entry;
  },
};

function handle(message: ToWorker): void {
  switch (message.type) {
    case 'run':
      // The main thread may have taken the cell back (it waited too long behind another cell).
      if (!claimPosting(state, message.slot, message.claim)) return;
      void run(message);
      break;
    case 'reply': {
      const replies = message.replies;
      const at = performance.now();
      for (let index = 0; index + 1 < replies.length; index += 2) {
        const callId = replies[index] as number;
        const settle = waiting.get(callId);
        waiting.delete(callId);
        const posted = postedAt.get(callId);
        if (posted !== undefined) {
          postedAt.delete(callId);
          replyWait.record(spinning, (at - posted) * 1000);
        }
        settle?.(replies[index + 1] as string);
      }
      break;
    }
    case 'dispose':
      drop(message.sessionId, message.why ?? 'its session was deleted');
      break;
    case 'cancel':
      // Also when the cell has ended (its result crossed this message): the main thread no longer
      // counts the context as here, so nothing else would ever drop it. A later cell of the session
      // is posted after this message.
      drop(message.sessionId, 'the main thread ended the cell');
      break;
    case 'fail':
      // A test hook of the worker-replacement backstop (`WorkbenchWorkers.failWorkerForTest`).
      if (message.how === 'exit') process.exit(1);
      if (message.how === 'hang') for (;;) {}
      // at once, not on a later turn: messages after this one (a tool's reply that lets the cell
      // end normally) must never be handled first
      throw new Error('A workbench worker failed on purpose (test).');
  }
}

/** Drops a session's context; a cell running in it ends, one whose context is being made does not start. */
function drop(sessionId: string, why: string): void {
  computedOn.delete(sessionId);
  sandboxes.get(sessionId)?.sandbox.dispose(why);
  sandboxes.delete(sessionId);
  const made = making.get(sessionId);
  if (made) made.dropped = why;
}

/** Makes a sandbox (waits for file reads the event loop delivers: no sleeping then). */
async function createSandbox(memoryMb: number): Promise<Sandbox> {
  creating++;
  try {
    return await Sandbox.create(memoryMb, { monitor });
  } finally {
    creating--;
  }
}

/** The sandbox the next new context takes, made while no cell runs here. */
const spare = new SpareSandbox(createSandbox, () => running.size === 0);

/** Posts to the main thread and counts the message in the shared memory (the main thread may be watching it). */
function send(message: FromWorker): void {
  port.postMessage(message);
  Atomics.add(state, SHARED.SENT, 1);
}

/**
 * The worker's heartbeat outside the engine: while its event loop turns it shows life (making
 * contexts, waiting for messages), so the main thread tells a worker that is slow (a loaded machine)
 * from one that hangs, and replaces only the latter.
 */
const HEARTBEAT_MS = 100;
setInterval(() => Atomics.store(state, SHARED.BEAT, now()), HEARTBEAT_MS).unref();

port.on('message', (message: ToWorker) => {
  Sandbox.batch(() => handle(message));
  scheduleWait();
});
send({ type: 'ready' });
spare.want(DEFAULT_WORKBENCH.memoryMb);

let scheduled = false;
/** Soon (after this turn of the event loop): wait on the shared memory for the next messages. */
function scheduleWait(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(waitForMessages);
}

/**
 * Takes messages from the shared memory's wake-ups for up to `SYNC_WAIT_MS`, then gives the event
 * loop its turn (timers, the file reads of a new sandbox). Replies of a fast tool are waited for
 * spinning first (see `SPIN_US`).
 */
function waitForMessages(): void {
  scheduled = false;
  try {
    const until = performance.now() + SYNC_WAIT_MS;
    for (;;) {
      if (creating > 0) return;
      const seen = Atomics.load(state, SHARED.SEQ);
      let received = false;
      Sandbox.batch(() => {
        for (let message = receiveMessageOnPort(port); message; message = receiveMessageOnPort(port)) {
          handle(message.message as ToWorker);
          received = true;
        }
      });
      if (received) {
        // the sandboxes run on in promise jobs (their steps are async): let them, then wait again
        scheduleWait();
        return;
      }
      spinning = waiting.size > 0 && replyWait.busy();
      if (spinning) {
        const spinUntil = Math.min(until, performance.now() + SPIN_US / 1000);
        while (Atomics.load(state, SHARED.SEQ) === seen && performance.now() < spinUntil) {}
        if (Atomics.load(state, SHARED.SEQ) !== seen) continue;
      }
      const left = until - performance.now();
      if (left <= 0) return;
      Atomics.wait(state, SHARED.SEQ, seen, left);
    }
  } finally {
    spinning = false;
  }
}

async function run(message: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  let created = false;
  running.add(message.runId);
  const calls: number[] = [];
  /**
   * The session's context is gone although the main thread counts on it: code its last cell left
   * running after it answered ended the engine (that answer said the context lived on).
   */
  let stopped = false;
  try {
    let held = sandboxes.get(message.sessionId);
    if (message.fresh || !held || held.sandbox.disposed || held.memoryMb !== message.memoryMb) {
      stopped = !message.fresh && held !== undefined && held.sandbox.disposed;
      held?.sandbox.dispose();
      const made: { dropped?: string } = {};
      making.set(message.sessionId, made);
      let sandbox: Sandbox;
      try {
        sandbox = (await spare.take(message.memoryMb)) ?? (await createSandbox(message.memoryMb));
      } finally {
        if (making.get(message.sessionId) === made) making.delete(message.sessionId);
      }
      created = true;
      if (made.dropped !== undefined) {
        // dropped while it was being made (its session deleted, its ToolMux closed): nothing runs in it
        sandbox.dispose();
        send({
          type: 'result',
          runId: message.runId,
          result: contextDropped(made.dropped),
          disposed: true,
          created,
        });
        scheduleWait();
        return;
      }
      held = { sandbox, memoryMb: message.memoryMb };
      sandboxes.set(message.sessionId, held);
    }
    const sandbox = held.sandbox;
    let deadline = message.deadline;
    const waited = computedOn.get(message.sessionId);
    computedOn.delete(message.sessionId);
    if (waited && waited.endedAt > message.postedAt) {
      // it waited behind code its session's last cell left computing here: that time was not its own
      deadline += waited.endedAt - Math.max(message.postedAt, waited.at);
    }
    const limits: CellLimits = {
      ...message.limits,
      deadline,
      // read in the shared memory: code that holds this thread would read the `dispose` message only after it
      dropped: () => postingDropped(state, message.slot),
    };
    let posted = false;
    const post = (result: CellResult) => {
      if (posted) return;
      posted = true;
      if (sandbox.disposed && sandboxes.get(message.sessionId) === held) sandboxes.delete(message.sessionId);
      if (inside) answered = { sessionId: message.sessionId, entry, at: Date.now(), marked: false };
      send({
        type: 'result',
        runId: message.runId,
        result,
        disposed: sandbox.disposed,
        created,
        // posted from inside the engine: code the cell left running may run on in this entry
        ...(inside ? { entry } : {}),
        ...(stopped ? { stopped: true as const } : {}),
      });
      scheduleWait();
    };
    /** Calls of this cell not yet posted: `[callId, operation, argsJson, ...]`. */
    let outgoing: Array<number | string> = [];
    const result = await sandbox.runRaw(
      message.code,
      {
        call(operation, argsJson, done) {
          const callId = nextCall++;
          calls.push(callId);
          waiting.set(callId, done);
          postedAt.set(callId, performance.now());
          outgoing.push(callId, operation, argsJson);
        },
        flush() {
          if (outgoing.length === 0) return;
          send({ type: 'host', runId: message.runId, calls: outgoing });
          outgoing = [];
          scheduleWait();
        },
      },
      limits,
      post,
    );
    post(result);
  } catch (error) {
    sandboxes.delete(message.sessionId);
    send({
      type: 'result',
      runId: message.runId,
      result: {
        result: null,
        logs: [],
        error: {
          code: 'WORKBENCH_MEMORY_LIMIT',
          message: `The workbench could not run the code: ${quotedMessage(error)}`,
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
