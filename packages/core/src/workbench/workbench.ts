import { stoppedByTimeLimit, toolmuxStopOf } from '../util/abort.js';
import type { WorkbenchConfig } from './config.js';
import { type CellRunner, sharedCellRunner } from './main-thread.js';
import { type CellResult, contextDropped, SandboxCallError, type SandboxHostCall } from './sandbox.js';

/** Characters a cell may return and log together. */
export const WORKBENCH_MAX_OUTPUT_CHARS = 100_000;
/** `toolmux.*` calls one cell may make. */
export const WORKBENCH_MAX_TOOL_CALLS = 1_000;
/** A context unused this long is evicted; its `globalThis` is gone, `toolmux.files` stay. */
export const WORKBENCH_IDLE_MS = 10 * 60_000;
/** At most this many live contexts per ToolMux (its pool); the least recently used goes first. */
export const WORKBENCH_MAX_CONTEXTS = 1_000;

/** What the workbench calls back into the session for `toolmux.*`. */
export type WorkbenchHost = SandboxHostCall;

interface Entry {
  /** The session's context lives in a worker. */
  live: boolean;
  memoryMb: number;
  lastUsed: number;
  /** A cell of the session runs now: its context is not evicted (idle or to make room) meanwhile. */
  running: boolean;
  /** Cells of one session run one after the other. */
  queue: Promise<unknown>;
  /** Dropped for good (its session deleted, the pool closed): cells queued behind do not run. */
  dropped?: string;
}

/** A cell's answer to the model, with a note when the context it ran in is new. */
export interface WorkbenchResult extends CellResult {
  notice?: string;
}

/**
 * The live workbench contexts of one ToolMux, by session id: created on a session's first cell,
 * evicted after `idleMs` without use (or when more than `maxContexts` live), dropped after a limit.
 */
export class WorkbenchPool {
  readonly #entries = new Map<string, Entry>();
  /** Sessions whose context this process dropped, and why: the next cell says so. */
  readonly #dropped = new Map<string, string>();
  readonly #idleMs: number;
  readonly #maxContexts: number;
  #sweeper: NodeJS.Timeout | undefined;
  readonly #workers: CellRunner;
  /** Prefix of this pool's contexts in the shared workers. */
  readonly #key = `pool${++poolCount}:`;
  /** Why the pool was closed (its cells end, and new ones do not run); undefined while open. */
  #closed: string | undefined;
  /** Workbench calls not settled yet (`run`, and what `track` was given): `close` waits for them. */
  readonly #calls = new Set<Promise<unknown>>();

  constructor(options: { idleMs?: number; maxContexts?: number; workers?: CellRunner } = {}) {
    this.#idleMs = options.idleMs ?? WORKBENCH_IDLE_MS;
    this.#maxContexts = options.maxContexts ?? WORKBENCH_MAX_CONTEXTS;
    this.#workers = options.workers ?? sharedCellRunner();
  }

  /** Whether the session's context is still in its worker (a replaced worker loses its contexts). */
  #isLive(sessionId: string, entry: Entry): boolean {
    if (!entry.live) return false;
    if (this.#workers.holds(this.#key + sessionId)) return true;
    entry.live = false;
    this.#remember(sessionId, 'the previous context was stopped (its worker was restarted).');
    return false;
  }

  /** How many contexts are live. */
  get size(): number {
    let live = 0;
    for (const [sessionId, entry] of this.#entries) if (this.#isLive(sessionId, entry)) live++;
    return live;
  }

  /**
   * Runs one cell in the session's context (made when missing). `ranBefore`: whether the session has
   * an earlier workbench call (one store query, asked only when the cell gets a new context that this
   * process did not drop itself): its context is gone (another instance ran it, or this process
   * restarted), and the cell's answer says so.
   */
  run(
    sessionId: string,
    code: string,
    config: WorkbenchConfig,
    host: WorkbenchHost,
    signal?: AbortSignal,
    ranBefore?: () => Promise<boolean>,
  ): Promise<WorkbenchResult> {
    if (this.#closed !== undefined) return Promise.resolve(contextDropped(this.#closed));
    let entry = this.#entries.get(sessionId);
    if (!entry) {
      entry = {
        live: false,
        memoryMb: config.memoryMb,
        lastUsed: Date.now(),
        running: false,
        queue: Promise.resolve(),
      };
      this.#entries.set(sessionId, entry);
    }
    const current = entry;
    // The cell's toolmux.files writes and deletions still running, and what each is: `close` waits
    // for them (a write cut by the store closing left its pieces and its quota reservation behind,
    // and the old file, while nobody was told), and a cell stopped while one ran says what came of it.
    const changing = new Map<Promise<unknown>, string>();
    const tracked: WorkbenchHost = (operation, args, callSignal) => {
      const call = host(operation, args, callSignal);
      if (operation !== 'files.write' && operation !== 'files.delete') return call;
      const path = (args as { path?: unknown } | null)?.path;
      changing.set(call, `toolmux.${operation}(${typeof path === 'string' ? JSON.stringify(path) : '…'})`);
      const done = () => changing.delete(call);
      this.track(call.then(done, done));
      return call;
    };
    const run = current.queue.then(async (): Promise<WorkbenchResult> => {
      // a cell queued behind one that ran when its session was deleted, or the pool closed, does not start
      const dropped = current.dropped ?? this.#closed;
      if (dropped !== undefined) return contextDropped(dropped);
      // nor one whose caller gave up while it waited (it was answered TOOL_ABORTED then)
      if (signal?.aborted) return contextDropped(CALLER_ABORTED);
      let notice: string | undefined;
      // asked beside the cell (it adds no wait before it runs); a failed query means no notice
      let elsewhere: Promise<boolean> | undefined;
      const fresh = !this.#isLive(sessionId, current) || current.memoryMb !== config.memoryMb;
      if (fresh) {
        const reason = this.#dropped.get(sessionId);
        this.#dropped.delete(sessionId);
        if (reason)
          notice = `This is a new workbench context: ${reason} Values on globalThis from earlier calls are gone; toolmux.files are kept.`;
        else if (ranBefore) elsewhere = ranBefore().catch(() => false);
      }
      current.running = true;
      // The caller aborts (the application's signal, a server request that ended): its answer is
      // TOOL_ABORTED at once, and the code stops now, as at a timeout. It ran on to its deadline
      // (up to 10 minutes) for nobody, and the session's next cells waited for it.
      let abortedByCaller = false;
      const stop = () => {
        if (!current.running) return;
        abortedByCaller = true;
        current.live = false;
        this.#workers.dispose(this.#key + sessionId, CALLER_ABORTED);
      };
      signal?.addEventListener('abort', stop, { once: true });
      let outcome: Awaited<ReturnType<CellRunner['run']>>;
      try {
        const running = this.#workers.run(
          {
            sessionId: this.#key + sessionId,
            code,
            memoryMb: config.memoryMb,
            fresh,
            limits: {
              timeoutMs: config.timeoutMs,
              maxOutputChars: WORKBENCH_MAX_OUTPUT_CHARS,
              maxToolCalls: WORKBENCH_MAX_TOOL_CALLS,
            },
          },
          tracked,
          signal,
        );
        if (fresh) {
          // The worker holds the session's key from here on.
          current.live = true;
          current.memoryMb = config.memoryMb;
          this.#evictOverflow(sessionId);
        }
        outcome = await running;
      } finally {
        current.running = false;
        signal?.removeEventListener('abort', stop);
      }
      if (elsewhere && (await elsewhere) && !notice)
        notice = `This is a new workbench context: the context of this session's earlier workbench calls is not in this process (they ran on another server instance, before a restart, or with other memory settings). Values on globalThis from earlier calls are gone; toolmux.files are kept.`;
      let result: WorkbenchResult = outcome.result;
      if (result.error?.code === 'WORKBENCH_CONTEXT_DROPPED' && changing.size > 0)
        result = await withChangesSettled(result, changing);
      if (outcome.moved && !notice)
        notice = `This is a new workbench context: ${outcome.moved}. Values on globalThis from earlier calls are gone; toolmux.files are kept.`;
      current.lastUsed = Date.now();
      if (outcome.disposed) {
        current.live = false;
        this.#workers.dispose(this.#key + sessionId);
        this.#dropped.set(
          sessionId,
          outcome.reason ??
            (result.error
              ? `the previous context was stopped (${result.error.code}).`
              : 'the previous context was stopped.'),
        );
      }
      if (abortedByCaller) {
        current.live = false;
        this.#dropped.set(sessionId, `the previous context was stopped (${whyStopped(signal)}).`);
      }
      this.#scheduleSweep();
      return notice ? { ...result, notice } : result;
    });
    current.queue = run.catch(() => undefined);
    return this.track(run);
  }

  /**
   * Counts `call` (a workbench call, until its log entries are written) among those `close` waits
   * for; returns it.
   */
  track<T>(call: Promise<T>): Promise<T> {
    const settled: Promise<unknown> = call.then(
      () => this.#calls.delete(settled),
      () => this.#calls.delete(settled),
    );
    this.#calls.add(settled);
    return call;
  }

  /**
   * Drops a session's context (session deleted, or a test). With `why` (the session was deleted,
   * the pool closes), the session's cells that run or wait end with WORKBENCH_CONTEXT_DROPPED saying
   * it, and those queued behind them do not run.
   */
  evict(sessionId: string, reason = 'the previous context was evicted.', why?: string): void {
    const entry = this.#entries.get(sessionId);
    if (!entry) return;
    this.#entries.delete(sessionId);
    if (why !== undefined) entry.dropped = why;
    if (this.#isLive(sessionId, entry)) {
      entry.live = false;
      this.#remember(sessionId, reason);
    }
    this.#workers.dispose(this.#key + sessionId, why);
  }

  /** Drops every context whose last cell ended more than `idleMs` ago (none whose cell runs). */
  sweep(now = Date.now()): void {
    for (const [sessionId, entry] of this.#entries) {
      if (!entry.running && now - entry.lastUsed >= this.#idleMs)
        this.evict(
          sessionId,
          `the previous context was evicted after ${Math.round(this.#idleMs / 1000)} s without use.`,
        );
    }
  }

  /**
   * Drops every context; a cell running ends with WORKBENCH_CONTEXT_DROPPED saying `why`, and cells
   * asked for later do not run. Resolves once every workbench call made so far has settled (with
   * `track`: its log entries are written).
   */
  async close(why = 'its ToolMux was closed'): Promise<void> {
    this.#closed ??= why;
    for (const sessionId of [...this.#entries.keys()]) this.evict(sessionId, undefined, this.#closed);
    clearTimeout(this.#sweeper);
    this.#sweeper = undefined;
    while (this.#calls.size > 0) await Promise.all(this.#calls);
  }

  #remember(sessionId: string, reason: string): void {
    this.#dropped.set(sessionId, reason);
    if (this.#dropped.size > this.#maxContexts * 10) {
      const oldest = this.#dropped.keys().next().value;
      if (oldest !== undefined) this.#dropped.delete(oldest);
    }
  }

  #evictOverflow(keep: string): void {
    if (this.size <= this.#maxContexts) return;
    const byAge = [...this.#entries]
      // a context whose cell runs is not evicted under it (the cell would end with WORKBENCH_CONTEXT_DROPPED)
      .filter(([id, entry]) => id !== keep && !entry.running)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [sessionId] of byAge) {
      if (this.size <= this.#maxContexts) break;
      this.evict(
        sessionId,
        `the previous context was evicted to make room (more than ${this.#maxContexts} live workbench contexts).`,
      );
    }
  }

  #scheduleSweep(): void {
    if (this.#sweeper) return;
    this.#sweeper = setTimeout(
      () => {
        this.#sweeper = undefined;
        this.sweep();
        if (this.#entries.size > 0) this.#scheduleSweep();
      },
      Math.min(this.#idleMs, 60_000),
    );
    this.#sweeper.unref();
  }
}

/**
 * A cell stopped (its context dropped) while toolmux.files writes or deletions it made ran: they are
 * let finish, as a file half written would be no file (its pieces and reservation left behind), and
 * the answer says what came of each, as the code that waited for them can no longer be told.
 */
async function withChangesSettled(
  result: WorkbenchResult,
  changing: ReadonlyMap<Promise<unknown>, string>,
): Promise<WorkbenchResult> {
  const calls = [...changing];
  const outcomes = await Promise.allSettled(calls.map(([call]) => call));
  const told = outcomes.map((outcome, index) => {
    const call = calls[index]![1];
    if (outcome.status === 'fulfilled') return `${call} completed`;
    const code = (outcome.reason as { code?: unknown } | undefined)?.code;
    return `${call} failed (${typeof code === 'string' ? code : 'STORE_ERROR'}), leaving the file as it was`;
  });
  const error = result.error!;
  return {
    ...result,
    error: {
      ...error,
      message: `${error.message} It was stopped while ${told.length === 1 ? 'a call' : 'calls'} it made still ran, which ${told.length === 1 ? 'was' : 'were'} let finish: ${told.join('; ')}.`,
    },
  };
}

/**
 * What stopped the workbench call whose `signal` aborted, for the next cell's notice: its caller's
 * time limit, toolmux itself (its own timeout, close(), or the call it was made from, which its
 * failure names), or its caller.
 */
function whyStopped(signal: AbortSignal | undefined): string {
  if (stoppedByTimeLimit(signal)) return "the call running in it was stopped by its caller's time limit";
  const reason: unknown = signal?.reason;
  if (toolmuxStopOf(signal) !== undefined && reason instanceof Error)
    return reason.message.replace(/\.$/, '');
  return 'the call running in it was aborted by its caller';
}

/** Why a cell whose caller aborted its call was stopped. */
const CALLER_ABORTED = 'its caller aborted the call';

let poolCount = 0;
const pools = new WeakMap<object, WorkbenchPool>();

/**
 * A ToolMux dropped without `close()` (one made per request, say) is collectable once its cells
 * ended (a pool holds nothing of its owner), but its pool's idle sweep kept the pool, and its contexts
 * in the shared workers, for the idle time (10 minutes): a context per dropped ToolMux, each with its
 * `globalThis`, which no later call could reach. They are dropped when the owner is collected.
 */
const droppedOwners = new FinalizationRegistry<WorkbenchPool>((pool) => {
  void pool.close('its ToolMux was dropped without close()');
});

/** The pool of one ToolMux, keyed by an object that lives as long as it (its store). */
export function workbenchPoolOf(owner: object): WorkbenchPool {
  let pool = pools.get(owner);
  if (!pool) {
    pool = new WorkbenchPool();
    pools.set(owner, pool);
    droppedOwners.register(owner, pool);
  }
  return pool;
}

/**
 * The ToolMux that owns `owner` closes: every workbench context it has in this process is dropped,
 * a cell that runs ends with WORKBENCH_CONTEXT_DROPPED, and later cells do not run. Resolves once the
 * workbench calls made so far have settled (their log entries are written), so the caller closes the
 * log writer and the store after them. Contexts of other owners are untouched.
 */
export function closeWorkbench(owner: object): Promise<void> {
  return pools.get(owner)?.close('its ToolMux was closed') ?? Promise.resolve();
}

/**
 * A session was deleted: its workbench context (if this process holds one) is dropped now, and a cell
 * it runs ends with WORKBENCH_CONTEXT_DROPPED (the deleted session's code does not run on).
 */
export function endSessionWorkbench(owner: object, sessionId: string): void {
  pools.get(owner)?.evict(sessionId, 'the session was deleted.', 'its session was deleted');
}

export { SandboxCallError };
