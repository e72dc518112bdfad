import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type CellLimits, type CellResult, SandboxCallError, type SandboxHostCall } from './sandbox.js';

/** A `toolmux.*` call's answer, as the worker gets it. */
export type HostReply = { value: unknown } | { error: { code: string; message: string } };

/** Messages from the main thread to a workbench worker. */
export type ToWorker =
  | {
      type: 'run';
      runId: number;
      sessionId: string;
      code: string;
      memoryMb: number;
      /** Start from a new context even when the worker has one for the session. */
      fresh: boolean;
      limits: Omit<CellLimits, 'signal'>;
    }
  | { type: 'reply'; callId: number; reply: HostReply }
  | { type: 'dispose'; sessionId: string };

/** Messages from a workbench worker to the main thread. */
export type FromWorker =
  | { type: 'host'; runId: number; callId: number; operation: string; args: unknown }
  | { type: 'result'; runId: number; result: CellResult; disposed: boolean; created: boolean };

/** Time a worker may take past a cell's `timeoutMs` before it is terminated and replaced. */
export const WORKBENCH_WORKER_GRACE_MS = 2_000;

/** Workbench worker threads per process unless `TOOLMUX_WORKBENCH_WORKERS` says otherwise. */
export function defaultWorkerCount(): number {
  const fromEnv = Number(process.env.TOOLMUX_WORKBENCH_WORKERS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** What a worker's cell ended with, as the pool sees it. */
export interface WorkerCellOutcome {
  result: CellResult;
  /** The context is gone after this cell (timeout, out of memory, worker replaced). */
  disposed: boolean;
}

interface Pending {
  host: SandboxHostCall;
  controller: AbortController;
  resolve(outcome: WorkerCellOutcome): void;
  timer: NodeJS.Timeout;
  timeoutMs: number;
}

/**
 * Resolves the worker's entry: `worker.js` next to this file once built; under a test runner that
 * loads `src/*.ts`, `worker.ts` with a resolve hook that maps the `.js` imports to their `.ts` files
 * (Node strips the types).
 */
function spawn(): Worker {
  const built = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return new Worker(built);
  const source = new URL('./worker.ts', import.meta.url).href;
  return new Worker(
    `const { registerHooks } = require('node:module');
registerHooks({
  resolve(specifier, context, next) {
    try { return next(specifier, context); } catch (error) {
      if (/^\\.\\.?\\//.test(specifier) && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context);
      throw error;
    }
  },
});
import(${JSON.stringify(source)});`,
    { eval: true },
  );
}

/**
 * One workbench worker thread: many sessions' contexts, their cells, and the wall-time limit kept
 * from the main thread (a worker that does not answer in `timeoutMs` + grace is terminated).
 */
class WorkbenchWorker {
  #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  /** Sessions whose context lives in this worker. */
  readonly sessions = new Set<string>();

  constructor() {
    this.#worker = this.#start();
  }

  get load(): number {
    return this.sessions.size;
  }

  #start(): Worker {
    const worker = spawn();
    worker.unref();
    worker.on('message', (message: FromWorker) => this.#message(message));
    worker.on('error', () => this.#replace('the workbench worker failed'));
    worker.on('exit', () => {
      if (worker === this.#worker) this.#replace('the workbench worker stopped');
    });
    return worker;
  }

  #message(message: FromWorker): void {
    const pending = this.#pending.get(message.runId);
    if (!pending) return;
    if (message.type === 'result') {
      this.#settle(message.runId, { result: message.result, disposed: message.disposed });
      return;
    }
    pending
      .host(message.operation, message.args, pending.controller.signal)
      .then(
        (value): HostReply => ({ value: value === undefined ? null : value }),
        (error: unknown): HostReply => ({
          error: {
            code: error instanceof SandboxCallError ? error.code : 'WORKBENCH_CODE_ERROR',
            message: error instanceof Error ? error.message : String(error),
          },
        }),
      )
      .then((reply) => {
        if (!this.#pending.has(message.runId)) return;
        try {
          this.#worker.postMessage({ type: 'reply', callId: message.callId, reply } satisfies ToWorker);
        } catch (error) {
          this.#worker.postMessage({
            type: 'reply',
            callId: message.callId,
            reply: { error: { code: 'WORKBENCH_CODE_ERROR', message: String(error) } },
          } satisfies ToWorker);
        }
      });
  }

  #settle(runId: number, outcome: WorkerCellOutcome): void {
    const pending = this.#pending.get(runId);
    if (!pending) return;
    this.#pending.delete(runId);
    clearTimeout(pending.timer);
    pending.controller.abort();
    if (this.#pending.size === 0) this.#worker.unref();
    pending.resolve(outcome);
  }

  /** Terminates the worker and starts another; every context it held is lost. */
  #replace(reason: string): void {
    const old = this.#worker;
    this.#worker = this.#start();
    void old.terminate();
    this.sessions.clear();
    for (const [runId, pending] of [...this.#pending]) {
      this.#settle(runId, {
        result: {
          result: null,
          logs: [],
          error: {
            code: 'WORKBENCH_TIMEOUT',
            message: `The code did not finish within ${pending.timeoutMs} ms and was stopped (${reason}); globalThis was reset (toolmux.files are kept). Do less per cell.`,
          },
        },
        disposed: true,
      });
    }
  }

  run(
    runId: number,
    message: Omit<Extract<ToWorker, { type: 'run' }>, 'type' | 'runId'>,
    host: SandboxHostCall,
    signal: AbortSignal | undefined,
  ): Promise<WorkerCellOutcome> {
    return new Promise((resolve) => {
      const controller = new AbortController();
      if (signal) {
        if (signal.aborted) controller.abort(signal.reason);
        else signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
      }
      const timer = setTimeout(
        () => this.#replace('its worker did not answer in time and was restarted'),
        message.limits.timeoutMs + WORKBENCH_WORKER_GRACE_MS,
      );
      this.#pending.set(runId, { host, controller, resolve, timer, timeoutMs: message.limits.timeoutMs });
      this.sessions.add(message.sessionId);
      this.#worker.ref();
      this.#worker.postMessage({ type: 'run', runId, ...message } satisfies ToWorker);
    });
  }

  dispose(sessionId: string): void {
    if (this.sessions.delete(sessionId))
      this.#worker.postMessage({ type: 'dispose', sessionId } satisfies ToWorker);
  }
}

/**
 * The workbench worker threads of the process: each session's context lives in one of them (the
 * least loaded when it is made), so model-written code never runs on the main event loop.
 */
export class WorkbenchWorkers {
  readonly #size: number;
  readonly #workers: WorkbenchWorker[] = [];
  #nextRun = 0;

  constructor(size = defaultWorkerCount()) {
    this.#size = size;
  }

  /** Whether a worker holds a context for `key` (false after its worker was replaced). */
  holds(key: string): boolean {
    return this.#workers.some((worker) => worker.sessions.has(key));
  }

  /** The worker holding the session's context, or the least loaded one for a new context. */
  #workerFor(sessionId: string): WorkbenchWorker {
    const holder = this.#workers.find((worker) => worker.sessions.has(sessionId));
    if (holder) return holder;
    if (this.#workers.length < this.#size) {
      const worker = new WorkbenchWorker();
      this.#workers.push(worker);
      return worker;
    }
    return this.#workers.reduce((least, worker) => (worker.load < least.load ? worker : least));
  }

  /** Runs one cell of a session in its worker. */
  run(
    message: Omit<Extract<ToWorker, { type: 'run' }>, 'type' | 'runId'>,
    host: SandboxHostCall,
    signal?: AbortSignal,
  ): Promise<WorkerCellOutcome> {
    return this.#workerFor(message.sessionId).run(this.#nextRun++, message, host, signal);
  }

  /** Frees a session's context in its worker. */
  dispose(sessionId: string): void {
    for (const worker of this.#workers) worker.dispose(sessionId);
  }
}

let shared: WorkbenchWorkers | undefined;

/** The process's workbench workers, started on first use. */
export function sharedWorkbenchWorkers(): WorkbenchWorkers {
  shared ??= new WorkbenchWorkers();
  return shared;
}
