import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, receiveMessageOnPort, type Worker } from 'node:worker_threads';
import { spawnModuleThread } from '../util/module-thread.js';
import { workbenchEnvNumber } from './env.js';
import {
  CellCalls,
  type CellLimits,
  type CellResult,
  callHost,
  contextDropped,
  droppedReply,
  LEFTOVER_STOPPED,
  type SandboxHostCall,
} from './sandbox.js';
import {
  ClaimSlots,
  DEFAULT_MAIN_SPIN_US,
  SHARED,
  SHARED_LENGTH,
  WaitChooser,
  type WorkerInit,
} from './shared-state.js';

/** Messages from the main thread to a workbench worker. */
export type ToWorker =
  | {
      type: 'run';
      runId: number;
      /** The claim slot of the cell in the shared memory. */
      slot: number;
      /**
       * The token of this posting in its slot: the worker starts the cell only if the slot still holds
       * it. Each posting has its own (a cell taken back and posted again to the same worker, even to the
       * same slot, has a new one), so a message of a posting that was taken back can never start it.
       */
      claim: number;
      sessionId: string;
      code: string;
      memoryMb: number;
      /** Start from a new context even when the worker has one for the session. */
      fresh: boolean;
      /** When the cell's wall time ends (epoch ms), counted from when it was asked for. */
      deadline: number;
      /**
       * When this posting was made (epoch ms): the time it then waits for code its session's last
       * cell left computing in this worker is added to `deadline` (it is that cell's time).
       */
      postedAt: number;
      limits: Omit<CellLimits, 'signal' | 'deadline'>;
    }
  /**
   * Answers of `toolmux.*` calls: `[callId, json, callId, json, ...]`, each answer JSON text,
   * `{"value": ...}` or `{"error": {"code", "message"}}`.
   */
  | { type: 'reply'; replies: Array<number | string> }
  /** Drop a session's context; a cell running in it ends with WORKBENCH_CONTEXT_DROPPED saying `why`. */
  | { type: 'dispose'; sessionId: string; why?: string }
  /**
   * The main thread gave up on a cell (it ended it already, and forgot the session's context here):
   * drop that context, also when the cell has ended meanwhile (its result on its way).
   */
  | { type: 'cancel'; runId: number; sessionId: string }
  /** Test hook: the worker exits, hangs outside the engine, or throws. */
  | { type: 'fail'; how: WorkerFailure };

/** Messages from a workbench worker to the main thread. */
export type FromWorker =
  /** The worker listens (its modules are loaded). */
  | { type: 'ready' }
  /** `toolmux.*` calls a cell made in one go: `[callId, operation, argsJson, ...]`. */
  | { type: 'host'; runId: number; calls: Array<number | string> }
  | {
      type: 'result';
      runId: number;
      result: CellResult;
      disposed: boolean;
      created: boolean;
      /**
       * Posted from inside the engine, in this entry (`SHARED.ENTRY`): code the cell left running
       * after it answered may go on computing in it, until the cell's deadline.
       */
      entry?: number;
      /** The cell ran in a new context: code the session's last cell left running ended the previous one. */
      stopped?: true;
    };

/** How `failWorkerForTest` makes a worker fail. */
export type WorkerFailure = 'exit' | 'hang' | 'throw';

/** Time a worker may take past a cell's deadline before the main thread ends the cell itself. */
export const WORKBENCH_WORKER_GRACE_MS = 2_000;
/** A worker computing without pause this long counts as busy: new contexts go elsewhere. */
export const WORKBENCH_BUSY_MS = 50;
/**
 * A cell whose context's worker has not started it after this long (another session's code holds
 * that worker) runs in a new context on another worker instead, and is told so.
 */
export const WORKBENCH_SPILL_MS = 200;
/**
 * When every worker (up to the maximum) has computed without pause for this long and a cell waits,
 * the longest such computation is stopped (WORKBENCH_TIMEOUT).
 */
export const WORKBENCH_PREEMPT_MS = 1_000;

/**
 * After the main thread posts a message its worker answers quickly (a cell, or replies of fast
 * tools), it may watch the shared memory for the answer up to this long (µs) and handle it at once,
 * which saves a wake-up of its event loop: while that got answers sooner than waiting for the event
 * loop (see `WaitChooser`). `TOOLMUX_WORKBENCH_MAIN_SPIN_US` sets it; 0 turns it off.
 */
export const WORKBENCH_MAIN_SPIN_US =
  workbenchEnvNumber('TOOLMUX_WORKBENCH_MAIN_SPIN_US') ?? DEFAULT_MAIN_SPIN_US;
/** The main thread handles answers it watched for this long (ms) at most before the event loop gets its turn. */
export const WORKBENCH_MAIN_SPIN_CHAIN_MS = 1;

/** Since when (performance.now()) the main thread has watched for answers without an event-loop turn; 0 when it has not. */
let chainStart = 0;

/** Whether the main thread may watch for an answer now (within `WORKBENCH_MAIN_SPIN_CHAIN_MS` of this turn). */
function mayWatch(now: number): boolean {
  if (chainStart === 0) {
    chainStart = now;
    setImmediate(() => {
      chainStart = 0;
    });
  }
  return now - chainStart < WORKBENCH_MAIN_SPIN_CHAIN_MS;
}

/** Why a cell that had to start in a new context because its worker thread was replaced has no globalThis. */
const RESTARTED = 'the previous context was stopped (its worker was restarted)';

/** Workbench worker threads per process unless `TOOLMUX_WORKBENCH_WORKERS` says otherwise. */
export function defaultWorkerCount(): number {
  return workbenchEnvNumber('TOOLMUX_WORKBENCH_WORKERS') ?? Math.max(1, Math.min(4, availableParallelism()));
}

/** Workers the pool may add while every worker is busy (`TOOLMUX_WORKBENCH_MAX_WORKERS`, default twice the base). */
export function defaultMaxWorkerCount(size: number): number {
  const fromEnv = workbenchEnvNumber('TOOLMUX_WORKBENCH_MAX_WORKERS');
  return fromEnv === undefined ? size * 2 : Math.max(size, fromEnv);
}

/** What a worker's cell ended with, as the pool sees it. */
export interface WorkerCellOutcome {
  result: CellResult;
  /** The context is gone after this cell (timeout, out of memory, worker replaced). */
  disposed: boolean;
  /** Why the cell ran in a new context although the session had one (its worker was busy). */
  moved?: string;
  /** With `disposed`: why the context is gone, when it is not the cell's error (told on the next cell). */
  reason?: string;
}

export type RunMessage = Omit<
  Extract<ToWorker, { type: 'run' }>,
  'type' | 'runId' | 'slot' | 'claim' | 'deadline' | 'postedAt'
>;

/** One cell from when it is asked for until it ends. */
interface Run {
  runId: number;
  message: RunMessage;
  deadline: number;
  host: SandboxHostCall;
  /** The signal of its `toolmux.*` calls (aborted when the cell ends while they run). */
  calls: CellCalls;
  resolve(outcome: WorkerCellOutcome): void;
  /** The worker it is posted to, its claim slot there, and the token of that posting (see `ToWorker`). */
  worker: WorkbenchWorker | undefined;
  slot: number;
  claim: number;
  /** Started by its worker (it can no longer move). */
  claimed: boolean;
  /**
   * Why its context was dropped (`dispose`) after its worker started it: the worker ends it when the
   * drop gets there, and a `toolmux.*` call it makes meanwhile runs no tool.
   */
  dropped?: string;
  /** The session had a context when the cell was asked for (moving it loses its globalThis). */
  hadContext: boolean;
  moved?: string;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
  /** Waits for its worker's thread to start (since when): that time does not count against it. */
  startingSince?: number;
}

export { hasInputOptions } from '../util/module-thread.js';

/** Worker threads that fail to start this many times in a row fail the cells waiting for them. */
const MAX_START_FAILURES = 3;

/** Starts a workbench worker thread (`worker.ts` beside this file; see {@link spawnModuleThread}). */
export function spawnWorkbenchThread(init: WorkerInit): Worker {
  return spawnModuleThread(import.meta.url, 'worker', { workerData: init, transferList: [init.port] });
}

/**
 * One workbench worker thread: the contexts it holds, the cells posted to it, and what the shared
 * memory says of it (computing since when, alive).
 */
class WorkbenchWorker {
  readonly #pool: WorkbenchWorkers;
  /** The thread; none when `new Worker` threw (its failure is then handled as a failed start). */
  #worker: Worker | undefined;
  /** Threads started, counting those that could not be made: whose failure is the current one's. */
  #starts = 0;
  #port!: MessagePort;
  #state!: Int32Array;
  #base = 0;
  /** Sessions whose context lives in this worker. */
  readonly sessions = new Set<string>();
  /** Cells posted here and not ended, by run id. */
  readonly runs = new Map<number, Run>();
  #claims!: ClaimSlots;
  /** The thread is up (until then a cell waits for it, not for other sessions). */
  online = false;
  /** Cells waiting for the thread to start, posted once it is up. */
  #starting: Array<{ run: Run; fresh: boolean }> = [];
  /** Threads that failed before they came up, in a row. */
  #startFailures = 0;
  /** The last thread could not start, and no other was started yet: the next cell starts one. */
  #stopped = false;
  /** Replies not yet posted: `[callId, json, ...]`. */
  #replies: Array<number | string> = [];
  /** When (performance.now()) a message the worker answers soon was posted; 0 once an answer came. */
  #askedAt = 0;
  /** Whether the main thread watched for that answer, and how it chooses for that kind of message. */
  #watched = false;
  #asked: WaitChooser | undefined;
  /** How to wait for the answer to a cell, and to replies (they take the worker different times). */
  readonly #cellWait = new WaitChooser(WORKBENCH_MAIN_SPIN_US);
  readonly #replyWait = new WaitChooser(WORKBENCH_MAIN_SPIN_US);

  constructor(pool: WorkbenchWorkers) {
    this.#pool = pool;
    this.#start();
  }

  #start(): void {
    const channel = new MessageChannel();
    const shared = new SharedArrayBuffer(SHARED_LENGTH * Int32Array.BYTES_PER_ELEMENT);
    this.#state = new Int32Array(shared);
    this.#base = Date.now();
    this.#port = channel.port1;
    this.#claims = new ClaimSlots(this.#state);
    this.online = false;
    const start = ++this.#starts;
    let worker: Worker;
    try {
      worker = this.#pool.spawnThread({ port: channel.port2, shared, base: this.#base });
    } catch (error) {
      // `new Worker` threw: the system gave the process no thread (ERR_WORKER_INIT_FAILED: EAGAIN, a
      // container at its limit of processes). A failed start like one whose thread fails as it
      // loads, handled in a task of its own: this runs while a cell is placed or a thread replaced,
      // and thrown from here it reached a thread's event handler, uncaught, and ended the process.
      this.#worker = undefined;
      channel.port1.close();
      channel.port2.close();
      const reason = `it could not be made: ${(error as Error).message}`;
      setImmediate(() => {
        if (start === this.#starts && !this.#stopped) this.#failed(reason);
      });
      return;
    }
    this.#worker = worker;
    // An idle pool must not keep the process alive: the thread is ref'd only while cells wait for it
    // to start (a replacement's may, see `replace`) or run in it.
    if (this.#starting.length === 0) worker.unref();
    this.#port.on('message', (message: FromWorker) => this.#message(message));
    // after the listener: attaching one refs the port again
    this.#port.unref();
    // Only the current thread's failure counts, and only once: a thread emits 'exit' after its
    // 'error', and after the last failed start (see `#failed`) nothing may start another thread
    // until a cell needs one.
    worker.on('error', (error) => {
      if (worker === this.#worker && !this.#stopped) this.#failed(`it failed: ${error.message}`);
    });
    worker.on('exit', () => {
      if (worker === this.#worker && !this.#stopped) this.#failed('it stopped');
    });
  }

  /** Contexts held and cells posted: how loaded the worker is. */
  get load(): number {
    return this.sessions.size + this.runs.size;
  }

  /** How long (ms) the worker has been computing without pause; 0 when it is not. */
  busyFor(now = Date.now()): number {
    if (Atomics.load(this.#state, SHARED.BUSY) !== 1) return 0;
    return Math.max(0, now - this.#base - Atomics.load(this.#state, SHARED.ENTERED_AT));
  }

  /**
   * The last cell that answered from inside the engine (code it left running may compute on in
   * that entry, until its deadline). One per worker: the worker runs one entry at a time, so a
   * later entry means this one has ended.
   */
  #lastEntered: { sessionId: string; entry: number; until: number } | undefined;

  /**
   * Whether code the last cell of `sessionId` left running after it answered computes here now
   * (read in the shared memory, no message): the engine, checking in during that entry, marked it
   * (`SHARED.LEFTOVER`); at most until that cell's deadline and the grace.
   */
  computesLeftoverOf(sessionId: string, now = Date.now()): boolean {
    const last = this.#lastEntered;
    return (
      last?.sessionId === sessionId &&
      now < last.until + WORKBENCH_WORKER_GRACE_MS &&
      Atomics.load(this.#state, SHARED.LEFTOVER) === last.entry &&
      this.#computesIn(last.entry)
    );
  }

  /** Whether the worker computes in entry `entry` now. */
  #computesIn(entry: number): boolean {
    return Atomics.load(this.#state, SHARED.BUSY) === 1 && Atomics.load(this.#state, SHARED.ENTRY) === entry;
  }

  /** The cell of `sessionId` that answered last: when its deadline is (epoch ms), if it answered here. */
  lastDeadlineOf(sessionId: string): number | undefined {
    return this.#lastEntered?.sessionId === sessionId ? this.#lastEntered.until : undefined;
  }

  /** Whether the worker showed life within `ms` (it computes and its engine checks in, or it waits). */
  alive(ms: number, now = Date.now()): boolean {
    return now - this.#base - Atomics.load(this.#state, SHARED.BEAT) < ms;
  }

  /** Asks the worker to stop its current computation (the engine checks the flag often). */
  preempt(): void {
    Atomics.store(this.#state, SHARED.PREEMPT, Atomics.load(this.#state, SHARED.ENTRY));
  }

  /**
   * The session's context is dropped: its started cell's code stops at the engine's next check
   * (`DROPPED` in its claim slot), and so does code its last cell left computing (that entry is
   * stopped), without waiting for the `dispose` message the thread they hold would read only later.
   */
  stopDropped(sessionId: string): void {
    for (const run of this.runs.values())
      if (run.message.sessionId === sessionId && run.claimed) this.#claims.drop(run.slot);
    const last = this.#lastEntered;
    // (also before the engine marked that entry: stopping it is harmless if it was about to end)
    if (last?.sessionId === sessionId && this.#computesIn(last.entry))
      Atomics.store(this.#state, SHARED.PREEMPT, last.entry);
  }

  /** Posts to the worker and wakes it; with `answer`, may watch for its answer (see `WORKBENCH_MAIN_SPIN_US`). */
  #post(message: ToWorker, answer?: WaitChooser): void {
    const sent = Atomics.load(this.#state, SHARED.SENT);
    this.#port.postMessage(message);
    Atomics.add(this.#state, SHARED.SEQ, 1);
    Atomics.notify(this.#state, SHARED.SEQ);
    if (answer) this.#watch(sent, answer);
  }

  /**
   * Watches the shared memory for the worker's next message for up to `WORKBENCH_MAIN_SPIN_US`
   * while its answers come that fast, and handles it at once.
   */
  #watch(sent: number, chooser: WaitChooser): void {
    const now = performance.now();
    this.#askedAt = now;
    this.#asked = chooser;
    this.#watched = chooser.busy() && mayWatch(now);
    if (!this.#watched) return;
    const until = now + WORKBENCH_MAIN_SPIN_US / 1000;
    while (Atomics.load(this.#state, SHARED.SENT) === sent) {
      if (performance.now() >= until) return;
    }
    this.#drain();
  }

  /** Handles the messages the worker posted (outside a turn of the event loop). */
  #drain(): void {
    const port = this.#port;
    for (let received = receiveMessageOnPort(port); received; received = receiveMessageOnPort(port)) {
      this.#message(received.message as FromWorker);
      // A message may have replaced the worker (and its port).
      if (port !== this.#port) return;
    }
  }

  /** Posts a cell (or holds it until the thread is up); false when every claim slot is taken. */
  post(run: Run, fresh: boolean): boolean {
    if (this.#stopped) {
      this.#stopped = false;
      this.replace('its thread could not start before');
    }
    if (!this.online) {
      run.worker = undefined;
      run.startingSince ??= Date.now();
      this.sessions.add(run.message.sessionId);
      this.#starting.push({ run, fresh });
      // the cell waits for the thread: the process must not end meanwhile (nothing else may hold it)
      if (this.#starting.length === 1) this.#worker?.ref();
      return true;
    }
    const posting = this.#claims.post();
    if (posting === undefined) return false;
    const { slot } = posting;
    run.worker = this;
    run.slot = slot;
    run.claim = posting.token;
    run.claimed = false;
    this.runs.set(run.runId, run);
    this.sessions.add(run.message.sessionId);
    if (this.runs.size === 1) this.#worker?.ref();
    this.#post(
      {
        type: 'run',
        runId: run.runId,
        slot,
        claim: run.claim,
        deadline: run.deadline,
        postedAt: Date.now(),
        ...run.message,
        fresh,
      },
      this.#cellWait,
    );
    return true;
  }

  /** Whether the worker started the cell (checked without a message). */
  claimed(run: Run): boolean {
    if (run.claimed) return true;
    if (this.#claims.claimed(run.slot, run.claim)) run.claimed = true;
    return run.claimed;
  }

  /** Takes back a cell the worker has not started; false when it has. */
  withdraw(run: Run): boolean {
    if (run.claimed) return false;
    if (!this.#claims.withdraw(run.slot, run.claim)) {
      run.claimed = true;
      return false;
    }
    this.#release(run);
    return true;
  }

  #release(run: Run): void {
    if (!this.runs.delete(run.runId)) return;
    this.#claims.release(run.slot);
    run.worker = undefined;
    if (this.runs.size === 0) this.#worker?.unref();
  }

  /** The main thread ended a started cell itself: the worker drops its context when it gets there. */
  abandon(run: Run): void {
    this.#release(run);
    this.sessions.delete(run.message.sessionId);
    this.#post({ type: 'cancel', runId: run.runId, sessionId: run.message.sessionId });
  }

  #message(message: FromWorker): void {
    if (this.#askedAt > 0) {
      this.#asked?.record(this.#watched, (performance.now() - this.#askedAt) * 1000);
      this.#askedAt = 0;
    }
    if (message.type === 'ready') {
      this.online = true;
      const starting = this.#starting;
      this.#starting = [];
      const now = Date.now();
      for (const { run, fresh } of starting) {
        if (run.done) continue;
        // The thread's start is not the cell's time.
        run.deadline += now - (run.startingSince ?? now);
        run.startingSince = undefined;
        if (!this.post(run, fresh)) this.#pool.place(run);
      }
      // the cells waiting for the thread ended meanwhile, or went elsewhere
      if (this.runs.size === 0) this.#worker?.unref();
      return;
    }
    const run = this.runs.get(message.runId);
    if (!run) return;
    run.claimed = true;
    if (message.type === 'result') {
      this.#release(run);
      if (run.dropped !== undefined) {
        // its context was dropped while it ran: a cell the drop stopped says why (the worker's
        // engine knows only that it was); one that ended before keeps its answer
        this.sessions.delete(run.message.sessionId);
        const stopped = message.result.error?.code === 'WORKBENCH_CONTEXT_DROPPED';
        this.#pool.finish(run, {
          result: stopped ? contextDropped(run.dropped) : message.result,
          disposed: true,
        });
        return;
      }
      if (message.disposed) this.sessions.delete(run.message.sessionId);
      else if (message.entry !== undefined)
        this.#lastEntered = { sessionId: run.message.sessionId, entry: message.entry, until: run.deadline };
      this.#pool.finish(run, {
        result: message.result,
        disposed: message.disposed,
        ...(message.stopped ? { moved: LEFTOVER_STOPPED } : {}),
      });
      return;
    }
    const calls = message.calls;
    for (let index = 0; index + 2 < calls.length; index += 3) {
      const callId = calls[index] as number;
      if (run.dropped !== undefined) {
        this.#reply(run, callId, droppedReply(run.dropped));
        continue;
      }
      void callHost(run.host, calls[index + 1] as string, calls[index + 2] as string, run.calls.start()).then(
        (json) => {
          run.calls.finished();
          this.#reply(run, callId, json);
        },
      );
    }
  }

  /** Queues a reply; the replies ready in one go are posted together (after the current job). */
  #reply(run: Run, callId: number, json: string): void {
    if (run.done || run.worker !== this) return;
    this.#replies.push(callId, json);
    if (this.#replies.length === 2) queueMicrotask(this.#flushReplies);
  }

  readonly #flushReplies = (): void => {
    const replies = this.#replies;
    if (replies.length === 0) return;
    this.#replies = [];
    this.#post({ type: 'reply', replies }, this.#replyWait);
  };

  /** Terminates the thread and starts another; its contexts are lost, its cells end or move. */
  /**
   * The thread failed or stopped. One that never came up counts as a failed start: after
   * `MAX_START_FAILURES` in a row the cells waiting for it end with the reason (instead of waiting for
   * threads that cannot start), and the next thread starts when a cell needs one.
   */
  #failed(reason: string): void {
    if (this.online) {
      this.#startFailures = 0;
      this.replace(reason);
      return;
    }
    this.#startFailures++;
    if (this.#startFailures < MAX_START_FAILURES) {
      this.replace(reason);
      return;
    }
    this.#startFailures = 0;
    const starting = this.#starting;
    this.#starting = [];
    this.#stopped = true;
    for (const { run } of starting) {
      if (run.done) continue;
      run.startingSince = undefined;
      this.#pool.finish(run, {
        result: {
          result: null,
          logs: [],
          error: {
            code: 'WORKBENCH_WORKER_RESTARTED',
            message: `The workbench could not start a worker thread to run the code (${reason}). This is a problem of the server or process, not of the code: tell the developer.`,
          },
        },
        disposed: true,
      });
    }
  }

  replace(reason: string, timedOut?: Run): void {
    const old = this.#worker;
    const oldPort = this.#port;
    const runs = [...this.runs.values()];
    for (const run of runs) this.claimed(run);
    this.runs.clear();
    this.sessions.clear();
    this.#lastEntered = undefined;
    this.#replies = [];
    this.#askedAt = 0;
    this.#start();
    oldPort.close();
    void old?.terminate();
    for (const run of runs) {
      run.worker = undefined;
      if (!run.claimed && run !== timedOut) {
        // Not started: it starts elsewhere, in a new context (see `place`).
        this.#pool.place(run);
        continue;
      }
      this.#pool.finish(run, {
        result: {
          result: null,
          logs: [],
          error:
            run === timedOut
              ? {
                  code: 'WORKBENCH_TIMEOUT',
                  message: `The code did not finish within ${run.message.limits.timeoutMs} ms and its worker did not answer, so it was restarted; globalThis was reset (toolmux.files are kept). Do less per cell.`,
                }
              : {
                  code: 'WORKBENCH_WORKER_RESTARTED',
                  message: `The workbench worker running this code was restarted (${reason}); globalThis was reset (toolmux.files are kept). Run the code again.`,
                },
        },
        disposed: true,
      });
    }
  }

  dispose(sessionId: string, why?: string): void {
    if (this.sessions.delete(sessionId)) this.#post({ type: 'dispose', sessionId, why });
  }

  failForTest(how: WorkerFailure): void {
    this.#post({ type: 'fail', how });
  }
}

/**
 * The workbench worker threads of the process. A session's context lives in one worker; a worker
 * runs many sessions' cells, interleaved while they wait for tools. Code that computes holds its
 * worker's thread, so: new contexts go to a worker that is not computing; a cell whose worker does
 * not start it within `WORKBENCH_SPILL_MS` moves to a new context on a free worker (the pool grows
 * up to its maximum for that); when every worker has computed for `WORKBENCH_PREEMPT_MS` and a cell
 * waits, the longest computation is stopped; a cell that cannot start before its deadline ends with
 * WORKBENCH_TIMEOUT. A worker that dies, or does not answer past a deadline, is replaced.
 */
export class WorkbenchWorkers {
  readonly #size: number;
  readonly #max: number;
  readonly #workers: WorkbenchWorker[] = [];
  /** Cells asked for and not ended. */
  readonly #runs = new Set<Run>();
  #nextRun = 1;

  /** Starts one worker thread (`spawnWorkbenchThread`; a test can start threads that fail). */
  readonly spawnThread: (init: WorkerInit) => Worker;

  constructor(
    size = defaultWorkerCount(),
    max = defaultMaxWorkerCount(size),
    options: { spawn?: (init: WorkerInit) => Worker } = {},
  ) {
    this.#size = size;
    this.#max = Math.max(size, max);
    this.spawnThread = options.spawn ?? spawnWorkbenchThread;
  }

  /** Whether a worker holds a context for `key` (false after its worker was replaced). */
  holds(key: string): boolean {
    return this.#workers.some((worker) => worker.sessions.has(key));
  }

  /** How many worker threads run. */
  get workerCount(): number {
    return this.#workers.length;
  }

  /** A worker for a new context: one not computing, least loaded; a new one while under the base size or all are busy. */
  #freeWorker(except?: WorkbenchWorker): WorkbenchWorker | undefined {
    if (this.#workers.length < this.#size) return this.#spawn();
    const now = Date.now();
    let best: WorkbenchWorker | undefined;
    for (const worker of this.#workers) {
      if (worker === except || worker.busyFor(now) >= WORKBENCH_BUSY_MS) continue;
      if (!best || worker.load < best.load) best = worker;
    }
    if (best) return best;
    if (this.#workers.length < this.#max) return this.#spawn();
    return undefined;
  }

  #spawn(): WorkbenchWorker {
    const worker = new WorkbenchWorker(this);
    this.#workers.push(worker);
    return worker;
  }

  /** Runs one cell of a session: in the worker holding its context, or in a new context elsewhere. */
  run(message: RunMessage, host: SandboxHostCall, signal?: AbortSignal): Promise<WorkerCellOutcome> {
    return new Promise((resolve) => {
      const run: Run = {
        runId: this.#nextRun++,
        message,
        deadline: Date.now() + message.limits.timeoutMs,
        host,
        calls: new CellCalls(signal, message.limits.timeoutMs),
        resolve,
        worker: undefined,
        slot: -1,
        claim: 0,
        claimed: false,
        hadContext: !message.fresh && this.holds(message.sessionId),
        timer: undefined,
        done: false,
      };
      if (this.#nextRun > 0x3fff_ffff) this.#nextRun = 1;
      this.#runs.add(run);
      this.place(run);
    });
  }

  /** Posts a cell to the worker with its context, or to a free one; watches it until it starts. */
  place(run: Run): void {
    if (run.done) return;
    const key = run.message.sessionId;
    const holder = this.#workers.find((worker) => worker.sessions.has(key));
    let target = holder;
    let fresh = run.message.fresh || run.moved !== undefined;
    if (!target) {
      // The session had a context when the cell was asked for, and no worker holds it now: its
      // worker was replaced (a cell moved away from a busy one says so already). Its globalThis is
      // gone, and the cell's answer says so.
      if (run.hadContext) run.moved ??= RESTARTED;
      target = this.#freeWorker() ?? this.#leastLoaded();
      fresh = true;
    }
    if (!target.post(run, fresh)) {
      this.#watch(run, WORKBENCH_SPILL_MS);
      return;
    }
    this.#watch(run, WORKBENCH_SPILL_MS);
  }

  #leastLoaded(): WorkbenchWorker {
    return this.#workers.reduce((least, worker) => (worker.load < least.load ? worker : least));
  }

  /** Checks the cell after `ms`: started, or moved on, or ended at its deadline. */
  #watch(run: Run, ms: number): void {
    clearTimeout(run.timer);
    const wait = Math.max(0, Math.min(ms, run.deadline - Date.now()));
    run.timer = setTimeout(() => this.#check(run), wait);
    run.timer.unref();
  }

  #check(run: Run): void {
    if (run.done) return;
    const now = Date.now();
    if (run.startingSince !== undefined) {
      // Its worker's thread is starting: the cell's time has not begun.
      run.timer = setTimeout(() => this.#check(run), WORKBENCH_SPILL_MS);
      run.timer.unref();
      return;
    }
    const worker = run.worker;
    if (worker?.claimed(run)) {
      // Started: its worker ends it at the deadline; after the grace the main thread does.
      if (now < run.deadline + WORKBENCH_WORKER_GRACE_MS) {
        run.timer = setTimeout(() => this.#check(run), run.deadline + WORKBENCH_WORKER_GRACE_MS - now);
        run.timer.unref();
        return;
      }
      if (worker.alive(WORKBENCH_WORKER_GRACE_MS, now)) {
        // The worker is alive (computing another session's cell, which holds this one, or slow on
        // a loaded machine): end this one here; the worker drops its context when it gets to it.
        // Only a worker that shows no life is replaced (that would end every cell it holds).
        worker.abandon(run);
        this.finish(
          run,
          timeoutOutcome(
            run,
            'its worker was busy with other sessions, or too slow on a loaded machine, to end it in time',
          ),
        );
      } else {
        worker.replace('it did not answer', run);
      }
      return;
    }
    if (worker && now < run.deadline && (!worker.online || worker.busyFor(now) < WORKBENCH_BUSY_MS)) {
      // Its worker is starting, or not computing (it gets to the cell soon): wait on.
      this.#watch(run, WORKBENCH_BUSY_MS);
      return;
    }
    if (worker && now < run.deadline && worker.computesLeftoverOf(run.message.sessionId, now)) {
      // Code the session's last cell left running after it answered holds the worker (until that
      // cell's deadline at most): as on the main thread, the cell waits for it, in the same context
      // (it is not another session's code to move away from); the worker adds that wait to its
      // deadline, and so does this thread, at most by the time that code may still run.
      const until = worker.lastDeadlineOf(run.message.sessionId) ?? now;
      run.deadline = Math.max(run.deadline, until + run.message.limits.timeoutMs);
      this.#watch(run, WORKBENCH_BUSY_MS);
      return;
    }
    if (worker && !worker.withdraw(run)) {
      this.#check(run);
      return;
    }
    if (now >= run.deadline) {
      this.finish(run, {
        result: {
          result: null,
          logs: [],
          error: {
            code: 'WORKBENCH_TIMEOUT',
            message: `The code did not start within ${run.message.limits.timeoutMs} ms: every workbench worker was busy with other sessions' code. ${run.moved ? 'globalThis was reset (toolmux.files are kept)' : 'globalThis is as it was'}; try again.`,
          },
        },
        disposed: run.moved !== undefined,
      });
      return;
    }
    // Not started within the spill time: the worker holding the context computes another
    // session's code. Run in a new context on a free worker, or wait for one.
    const holder = this.#workers.find((each) => each.sessions.has(run.message.sessionId));
    if (holder) holder.dispose(run.message.sessionId);
    if (holder && run.hadContext) {
      run.moved ??=
        "the previous context was in a workbench worker held by another session's long-running code, so this call moved to another worker";
    }
    const target = this.#freeWorker(holder);
    if (target?.post(run, true)) {
      this.#watch(run, WORKBENCH_SPILL_MS);
      return;
    }
    this.#preemptLongest(now);
    this.#watch(run, WORKBENCH_BUSY_MS);
    // Waits unposted; the next check posts it to the first free worker.
    run.worker = undefined;
  }

  /** Every worker computes: stop the longest computation past `WORKBENCH_PREEMPT_MS`. */
  #preemptLongest(now: number): void {
    let longest: WorkbenchWorker | undefined;
    let longestFor = WORKBENCH_PREEMPT_MS;
    for (const worker of this.#workers) {
      const busy = worker.busyFor(now);
      if (busy >= longestFor) {
        longest = worker;
        longestFor = busy;
      }
    }
    longest?.preempt();
  }

  /** Ends a cell (its result, or an error the pool decided). */
  finish(run: Run, outcome: WorkerCellOutcome): void {
    if (run.done) return;
    run.done = true;
    this.#runs.delete(run);
    clearTimeout(run.timer);
    run.calls.end(outcome.result.error);
    run.resolve(run.moved ? { ...outcome, moved: run.moved } : outcome);
  }

  /**
   * Frees a session's context in its worker. A cell of the session that no worker started yet (its
   * worker's thread starts, it waits for a free worker, or it is posted and not claimed) ends here;
   * one that runs ends in its worker: both with WORKBENCH_CONTEXT_DROPPED saying `why`.
   */
  dispose(sessionId: string, why = 'its session was deleted'): void {
    for (const run of [...this.#runs]) {
      if (run.message.sessionId !== sessionId) continue;
      if (run.worker && !run.worker.withdraw(run)) {
        // started: its code stops at once (`stopDropped` below), and its worker ends it; until
        // then it calls no tool
        run.dropped ??= why;
        continue;
      }
      this.finish(run, { result: contextDropped(why), disposed: true });
    }
    for (const worker of this.#workers) {
      worker.stopDropped(sessionId);
      worker.dispose(sessionId, why);
    }
  }

  /** Which worker holds a context whose key matches (-1 when none): for tests. */
  workerIndexOf(sessionKey: (key: string) => boolean): number {
    return this.#workers.findIndex((each) => [...each.sessions].some(sessionKey));
  }

  /**
   * Test hook of the replacement backstop: the worker holding `sessionKey`'s context exits, hangs
   * (outside the engine, so no interrupt reaches it) or throws. Returns false when none holds it.
   */
  failWorkerForTest(sessionKey: (key: string) => boolean, how: WorkerFailure): boolean {
    const worker = this.#workers.find((each) => [...each.sessions].some(sessionKey));
    worker?.failForTest(how);
    return worker !== undefined;
  }
}

function timeoutOutcome(run: Run, why: string): WorkerCellOutcome {
  return {
    result: {
      result: null,
      logs: [],
      error: {
        code: 'WORKBENCH_TIMEOUT',
        message: `The code did not finish within ${run.message.limits.timeoutMs} ms (${why}); globalThis was reset (toolmux.files are kept). Try again, or do less per cell.`,
      },
    },
    disposed: true,
  };
}

let shared: WorkbenchWorkers | undefined;

/** The process's workbench workers, started on first use. */
export function sharedWorkbenchWorkers(): WorkbenchWorkers {
  shared ??= new WorkbenchWorkers();
  return shared;
}
