import { quotedMessage, ToolMuxError } from '../errors.js';
import { workerThreadsPermitted } from '../util/module-thread.js';
import { workbenchEnvNumber } from './env.js';
import {
  type CellResult,
  contextDropped,
  LEFTOVER_STOPPED,
  SANDBOX_SLICING_AVAILABLE,
  Sandbox,
  type SandboxHostCall,
} from './sandbox.js';
import { type MainThreadSlices, mainThreadSlices } from './slices.js';
import { SpareSandbox } from './spare.js';
import { type RunMessage, sharedWorkbenchWorkers, type WorkerCellOutcome } from './worker-pool.js';

/**
 * A session whose code held the main thread this long without a pause (CPU ms: one built-in such as
 * `sort` or `JSON.parse` on a large value, which cannot be suspended) runs in worker threads from its
 * next cell on. `TOOLMUX_WORKBENCH_MAIN_HOLD_MS` sets it.
 */
export const WORKBENCH_MAIN_HOLD_MS = workbenchEnvNumber('TOOLMUX_WORKBENCH_MAIN_HOLD_MS') ?? 100;

/** Sessions remembered as moved to worker threads, at most (the oldest is forgotten first). */
const MAX_MOVED = 10_000;

/** A cell's deadline passed before its new context could be made. */
class CellDidNotStart extends Error {}

/** A session's context on the main thread. */
interface Context {
  sandbox: Sandbox | undefined;
  memoryMb: number;
  /** Dropped (evicted, its session deleted, its ToolMux closed) while it was being made. */
  disposed: boolean;
  /** Why it was dropped, for a cell waiting for it (see `CellRunner.dispose`). */
  why?: string;
}

/** What runs the cells of a ToolMux's workbench: the main thread, in time slices, or worker threads. */
export interface CellRunner {
  /** Runs one cell in the context of `message.sessionId` (made when missing, or when `fresh`). */
  run(message: RunMessage, host: SandboxHostCall, signal?: AbortSignal): Promise<WorkerCellOutcome>;
  /** Whether a context for `key` is alive. */
  holds(key: string): boolean;
  /**
   * Frees the context of `key`. A cell of `key` that runs, or waits to start, ends with
   * `WORKBENCH_CONTEXT_DROPPED`, saying `why` (default: its session was deleted).
   */
  dispose(key: string, why?: string): void;
}

/** Why a session's cells now run in worker threads (its code held the main thread `hold` ms). */
function heldTooLong(hold: number): string {
  return `the previous context's code computed for ${Math.round(hold)} ms without a pause on the server's main thread (a built-in such as sort or JSON.parse on a large value, which cannot be paused), so this session's code now runs in a worker thread`;
}

/** Where workbench cells run: `main` (the default where Node.js has JSPI) or `workers`. */
export type WorkbenchThread = 'main' | 'workers';

/**
 * Runs cells on the main thread, each session's context in its own QuickJS Wasm instance, with
 * tool calls going straight to the session (no thread hand-off, no copy of arguments or results).
 * Code that computes for long shares the thread in slices (`MainThreadSlices`): the event loop, and
 * every other session, get a turn at least every `TOOLMUX_WORKBENCH_SLICE_MS`.
 */
export class MainThreadCells implements CellRunner {
  /** Contexts by key; `sandbox` is undefined while it is being made. */
  readonly #contexts = new Map<string, Context>();
  readonly #slices: MainThreadSlices;
  readonly #spare: SpareSandbox;
  #running = 0;
  readonly #holdMs: number;
  readonly #workers: () => CellRunner;
  /** Sessions whose code held the thread too long: their cells run in worker threads. */
  readonly #moved = new Set<string>();

  constructor(options: { slices?: MainThreadSlices; holdMs?: number; workers?: () => CellRunner } = {}) {
    const slices = options.slices ?? mainThreadSlices();
    this.#holdMs = options.holdMs ?? WORKBENCH_MAIN_HOLD_MS;
    this.#workers = options.workers ?? sharedWorkbenchWorkers;
    if (!SANDBOX_SLICING_AVAILABLE) {
      throw new Error(
        'The workbench can run on the main thread only where Node.js suspends WebAssembly (JSPI, Node.js 24 and later); run it in worker threads (TOOLMUX_WORKBENCH_THREAD=workers).',
      );
    }
    this.#slices = slices;
    this.#spare = new SpareSandbox(
      (memoryMb) => this.#create(memoryMb),
      () => this.#running === 0,
    );
  }

  /** The last sandbox being made: sandboxes are made one after the other. */
  #making: Promise<unknown> = Promise.resolve();

  /**
   * A new sandbox. Making one is a few milliseconds the thread cannot give away, so sandboxes are made
   * one at a time, each in a turn of the event loop whose slice is not used up (100 sessions
   * starting at once do not stall the thread for 100 of them).
   */
  #create(memoryMb: number, deadline = Number.POSITIVE_INFINITY): Promise<Sandbox> {
    const made = this.#making.then(async () => {
      // a cell whose time ran out while others' contexts were made needs none
      if (Date.now() >= deadline) throw new CellDidNotStart();
      await this.#slices.turn();
      if (Date.now() >= deadline) throw new CellDidNotStart();
      return Sandbox.create(memoryMb, { slicer: this.#slices });
    });
    this.#making = made.catch(() => undefined);
    return made;
  }

  /** Whether the session's cells run in worker threads (its code held the main thread too long). */
  movedToWorkers(key: string): boolean {
    return this.#moved.has(key);
  }

  holds(key: string): boolean {
    if (this.#moved.has(key)) return this.#workers().holds(key);
    // A context whose engine code its last cell left running ended (after that cell answered) is
    // still held: the session's next cell gets a new one there, and is told why (see `run`).
    const held = this.#contexts.get(key);
    return held !== undefined && !held.disposed;
  }

  /** Whether a context whose key matches is held here (for tests). */
  holdsAny(matches: (key: string) => boolean): boolean {
    return [...this.#contexts.keys()].some((key) => matches(key) && this.holds(key));
  }

  dispose(key: string, why?: string): void {
    if (this.#moved.has(key)) this.#workers().dispose(key, why);
    const held = this.#contexts.get(key);
    if (!held) return;
    held.disposed = true;
    held.why = why;
    held.sandbox?.dispose(why);
    this.#contexts.delete(key);
  }

  /** Drops the session's main-thread context; its next cells run in worker threads. */
  #moveToWorkers(key: string): void {
    this.dispose(key);
    this.#moved.add(key);
    if (this.#moved.size > MAX_MOVED) {
      const oldest = this.#moved.values().next().value;
      if (oldest !== undefined) this.#moved.delete(oldest);
    }
  }

  async run(message: RunMessage, host: SandboxHostCall, signal?: AbortSignal): Promise<WorkerCellOutcome> {
    if (this.#moved.has(message.sessionId)) return this.#workers().run(message, host, signal);
    let deadline = Date.now() + message.limits.timeoutMs;
    this.#running++;
    try {
      let held = this.#contexts.get(message.sessionId);
      let stopped: string | undefined;
      const previous = held?.sandbox;
      if (!message.fresh && previous?.busy) {
        // Code the last cell left computing after it answered runs on until that cell's deadline
        // (should stopping it end the engine, the context goes with it).
        const waited = Date.now();
        await previous.idle();
        // that time was the last cell's, not this one's
        deadline += Date.now() - waited;
        if (held?.disposed) {
          // dropped meanwhile (its session deleted, its ToolMux closed): nothing runs
          return { result: contextDropped(held.why ?? 'its session was deleted'), disposed: true };
        }
        const hold = previous.longestHoldMs;
        if (hold >= this.#holdMs) {
          // what it left running held the thread (after the last cell's own check): this cell moves
          this.#moveToWorkers(message.sessionId);
          const outcome = await this.#workers().run({ ...message, fresh: true }, host, signal);
          return { ...outcome, moved: outcome.moved ?? heldTooLong(hold) };
        }
      }
      if (!message.fresh && previous?.disposed && held && !held.disposed) {
        // not dropped by us, and its last cell answered without ending it: what that cell left
        // running did (whether it ended before this cell was asked for or while it waited)
        stopped = LEFTOVER_STOPPED;
      }
      if (message.fresh || !held || held.sandbox?.disposed || held.memoryMb !== message.memoryMb) {
        if (held) this.dispose(message.sessionId);
        // Held from now on (the pool counts live contexts as soon as it asked for one).
        const context: Context = { sandbox: undefined, memoryMb: message.memoryMb, disposed: false };
        this.#contexts.set(message.sessionId, context);
        context.sandbox =
          (await this.#spare.take(message.memoryMb)) ?? (await this.#create(message.memoryMb, deadline));
        held = context;
        if (context.disposed) {
          // dropped while it was being made (its session deleted, its ToolMux closed): nothing runs in it
          context.sandbox.dispose();
          return { result: contextDropped(context.why ?? 'its session was deleted'), disposed: true };
        }
      }
      // Cells of one session come one after the other: the context is made by now.
      const sandbox = held.sandbox as Sandbox;
      if (Date.now() >= deadline) throw new CellDidNotStart();
      const result = await sandbox.run(message.code, host, { ...message.limits, deadline, signal });
      // dropped meanwhile (evicted, or its session deleted): the cell ran, the context goes
      if (held.disposed) sandbox.dispose();
      const hold = sandbox.longestHoldMs;
      if (hold >= this.#holdMs) {
        this.#moveToWorkers(message.sessionId);
        return { result, disposed: true, reason: `${heldTooLong(hold)}.` };
      }
      // an engine that code the cell left running ended after the cell answered stays held, so
      // that the next cell is told (`stopped` above)
      const disposed = held.disposed || sandbox.endedWithCell;
      if (disposed && this.#contexts.get(message.sessionId) === held) {
        this.#contexts.delete(message.sessionId);
      }
      return stopped ? { result, disposed, moved: stopped } : { result, disposed };
    } catch (error) {
      // a context that could not be made is not held
      if (this.#contexts.get(message.sessionId)?.sandbox === undefined) this.dispose(message.sessionId);
      if (error instanceof CellDidNotStart) {
        const result: CellResult = {
          result: null,
          logs: [],
          error: {
            code: 'WORKBENCH_TIMEOUT',
            message: `The code did not start within ${message.limits.timeoutMs} ms: the workbench was busy making contexts for other sessions. Try again.`,
          },
        };
        // a context made in time for nothing stays the session's (it has run nothing)
        return { result, disposed: !this.holds(message.sessionId) };
      }
      this.dispose(message.sessionId);
      const result: CellResult = {
        result: null,
        logs: [],
        error: {
          code: 'WORKBENCH_MEMORY_LIMIT',
          message: `The workbench could not run the code: ${quotedMessage(error)}`,
        },
      };
      return { result, disposed: true };
    } finally {
      this.#running--;
      if (this.#running === 0) this.#spare.refill();
    }
  }
}

/**
 * Where this process runs workbench cells: `TOOLMUX_WORKBENCH_THREAD` (`main` or `workers`), else
 * the main thread where Node.js can suspend WebAssembly (JSPI), else worker threads.
 */
export function workbenchThread(): WorkbenchThread {
  const chosen = process.env.TOOLMUX_WORKBENCH_THREAD;
  if (chosen === 'workers') {
    if (workerThreadsPermitted()) return 'workers';
    // every cell would fail with Node.js's "Access to this API has been restricted"
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `TOOLMUX_WORKBENCH_THREAD is "workers", but this process may not start worker threads (Node.js's permission model): start it with --allow-worker${SANDBOX_SLICING_AVAILABLE ? ', or set TOOLMUX_WORKBENCH_THREAD=main' : ''}.`,
    });
  }
  if (chosen === 'main' && !SANDBOX_SLICING_AVAILABLE) {
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message:
        'TOOLMUX_WORKBENCH_THREAD is "main", but this Node.js cannot suspend WebAssembly (JSPI, Node.js 24 and later): use Node.js 24+, or TOOLMUX_WORKBENCH_THREAD=workers.',
    });
  }
  if (chosen !== undefined && chosen !== '' && chosen !== 'main') {
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `TOOLMUX_WORKBENCH_THREAD must be "main" or "workers", got ${JSON.stringify(chosen)}.`,
    });
  }
  return SANDBOX_SLICING_AVAILABLE ? 'main' : 'workers';
}

let shared: MainThreadCells | undefined;

/** The process's cell runner for workbench pools that are not given one (see `workbenchThread`). */
export function sharedCellRunner(): CellRunner {
  // where workers are only the default (no JSPI) and may not start, a cell fails with Node.js's own
  // "Access to this API has been restricted. Use --allow-worker …"
  if (workbenchThread() === 'workers') return sharedWorkbenchWorkers();
  shared ??= new MainThreadCells();
  return shared;
}
