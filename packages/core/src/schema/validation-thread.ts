import { AsyncLocalStorage } from 'node:async_hooks';
import type { Worker, WorkerOptions } from 'node:worker_threads';
import type { ValidationResult } from '../catalog/types.js';
import { ToolMuxError, type ToolMuxErrorCode } from '../errors.js';
import { jsonTextSliced, parseJsonSliced, type Slice } from '../util/json-slices.js';
import { spawnModuleThread } from '../util/module-thread.js';
import type { NullPlan } from './nulls.js';

/** What the main thread asks of the validation thread. */
export type ToValidationThread =
  | {
      type: 'check';
      id: number;
      /** The compiled document's key (see `ValidationThread.check`). */
      key: number;
      /**
       * The schema's JSON text, on the first check of `key` in this thread (it keeps the compiled
       * document until `forget`). Text: `JSON.stringify` and `JSON.parse` cost a fraction of a
       * structured clone of a large schema.
       */
      text?: string;
      slug: string;
      which: 'input' | 'output';
      /** The value's JSON text (the answer's value is JSON text too). */
      json: string;
    }
  | { type: 'forget'; key: number }
  | { type: 'nullPlan'; id: number; text: string };

/**
 * The thread's answer: a check's result, why the document cannot be compiled, or a null plan; or
 * word that a check's document is compiled (its check begins: see {@link ValidationThread}).
 */
export type FromValidationThread =
  | { id: number; result: ValidationResult; valueJson?: string }
  | { id: number; error: { code: ToolMuxErrorCode; message: string } }
  | { id: number; plan: NullPlan | undefined }
  | { id: number; compiled: true };

/** A message not answered yet: waiting to be posted, or posted (the one the thread works on). */
interface Pending {
  message: Extract<ToValidationThread, { id: number }>;
  /** A check's schema text: sent with it again to a thread that was not sent it (a new one). */
  text?: string;
  resolve(answer: FromValidationThread): void;
  reject(error: Error): void;
}

/** An owner's messages not posted yet, and when it last had a turn (`ValidationThread`'s count). */
interface Lane {
  waiting: Pending[];
  lastTurn: number;
}

/** The message the thread works on (the one posted), and its budget. */
interface Running {
  pending: Pending;
  /** Compiling a document (a check's first in the thread, or a null plan's walk), or checking a value. */
  phase: 'compile' | 'check';
  budgetMs: number;
  startedAt: number;
  /**
   * The thread's CPU time (µs) {@link CPU_SAMPLE_DELAY_MS} after it began, where Node.js tells it
   * (24.6+; wall time otherwise): not asked of a message answered before.
   */
  startedCpu?: Promise<number | undefined>;
  timer: NodeJS.Timeout;
}

/**
 * The time one check of a value may hold the validation thread, before its part per megabyte of the
 * value (ms, the thread's CPU time where Node.js tells it, wall time otherwise): past it the thread
 * is ended and the value refused as not checked in time. Every other check, of every session, waits
 * behind the one in the thread: a schema whose check costs more than the value's size (a recursive
 * `anyOf` whose failing variant checks the items below it doubles with each level of nesting: 30
 * levels, 60 bytes, are minutes) would hold it for good. Ordinary checks take milliseconds (a
 * megabyte of items tens), and the patterns RE2 cannot run have a budget of their own in a check
 * (100 ms and a share for each test).
 */
export const CHECK_TIME_BUDGET_MS = 1_000;

/** What a check's budget grows by for each megabyte of the value's JSON text (ms). */
export const CHECK_TIME_BUDGET_PER_MB_MS = 1_000;

/**
 * The time compiling one document may hold the thread (ms, as {@link CHECK_TIME_BUDGET_MS}), apart
 * from its first check's budget: a schema at the size limit (10,000 subschemas) takes seconds.
 */
export const COMPILE_TIME_BUDGET_MS = 60_000;

/**
 * The most JSON text of a value the thread is given, as a share of its heap: 1/128 (8 MiB of the
 * default 1 GiB). Past the heap's limit Node.js ends a worker only when the limit is reached in
 * JavaScript; reached in a long native call it aborts the whole process (`FATAL ERROR: Reached heap
 * limit`, measured: 16 MB of JSON text parsed in a thread of 64 MB, every time), and what a
 * check holds grows with its value: the parsed value, Ajv's issues (one per wrong item: a megabyte
 * of `[1,1,…]` against `items: { type: 'string' }` filled a 64 MB heap, half of it did not), the
 * value with its defaults and its JSON text. A larger value is refused unchecked, with a message
 * the caller (a model) can act on; the default body limit of the server (1 MiB) is far below it.
 */
const MAX_TEXT_HEAP_SHARE = 1 / 128;

/**
 * How much longer than its budget in wall time a message may hold the thread when its CPU time is
 * counted (a loaded machine), before it is given up all the same (a thread that waits, not works).
 */
const WALL_TIME_FACTOR = 10;

/** When the thread's CPU time is first asked for while it works on a message (ms after it began). */
const CPU_SAMPLE_DELAY_MS = 20;

/** The thread's budgets (ms) and heap (MB): tests make them small. */
export interface ValidationThreadLimits {
  checkMs: number;
  checkPerMbMs: number;
  compileMs: number;
  heapMb: number;
}

/**
 * One worker thread that compiles large tool schemas and checks values against them, so that neither
 * holds the event loop: Ajv turns a schema into JavaScript source (hundreds of characters per
 * subschema) and V8 compiles that source in one go, both in one turn. A schema of 200 subschemas (the
 * largest of GitHub's REST API) held the loop for tens of milliseconds at its tool's first call, one
 * of 10,000 (the most a tool may have) for seconds. The thread starts at the first check, keeps
 * compiled documents until they are forgotten, and does not keep the process alive while idle.
 *
 * The thread works on one message at a time, for every session, and each has a time budget (see
 * {@link CHECK_TIME_BUDGET_MS}; a document's first compile has one of its own): past it the thread
 * is ended (nothing else stops Ajv's synchronous check), the message answered as not checked in
 * time, and the next one posted to a new thread. A thread that ends otherwise (out of memory) fails
 * the message it was on. Messages are posted one at a time, taking turns between the sessions that
 * have some waiting (see {@link validationOwner}): one session's calls all posted at once held
 * every other session's behind them (ten concurrent calls spending a pattern's budget each: 1.4 s).
 */
export class ValidationThread {
  #worker: Worker | undefined;
  /** Keys whose document the current thread was sent (a new thread is sent them again). */
  #sent = new Set<number>();
  /** Messages not posted yet, by owner, each owner's in the order asked; owners take turns. */
  #lanes = new Map<string | undefined, Lane>();
  /** Turns taken (messages posted). */
  #turns = 0;
  /** The message posted, which the thread works on. */
  #running: Running | undefined;
  /** The thread `stop()` ends: its messages fail, none is posted again. */
  #stopping: Worker | undefined;
  #nextId = 0;
  readonly #limits: ValidationThreadLimits;

  /** Starts the thread ({@link spawnValidationThread}; a test can start threads that cannot start). */
  readonly #spawn: (options: WorkerOptions) => Worker;

  constructor(
    limits: Partial<ValidationThreadLimits> = {},
    options: { spawn?: (options: WorkerOptions) => Worker } = {},
  ) {
    this.#spawn = options.spawn ?? spawnValidationThread;
    this.#limits = {
      checkMs: CHECK_TIME_BUDGET_MS,
      checkPerMbMs: CHECK_TIME_BUDGET_PER_MB_MS,
      compileMs: COMPILE_TIME_BUDGET_MS,
      heapMb: VALIDATION_THREAD_HEAP_MB,
      ...limits,
    };
  }

  /**
   * Checks `value` (plain JSON data) against the schema of `key` (`text`, its JSON text, sent the
   * first time), compiled there as `compileDocument` does. The thread receives the value's JSON text,
   * written a slice at a time, and the value it answers (with its defaults) is JSON text read a
   * slice at a time: a structured clone is one turn at each end (a call of a megabyte of items held
   * the loop 7–9 ms of CPU for it). A value of more JSON text than {@link MAX_TEXT_HEAP_SHARE} of
   * the thread's heap is refused unchecked.
   */
  async check(
    key: number,
    text: string,
    slug: string,
    which: 'input' | 'output',
    value: unknown,
    slice: Slice,
  ): Promise<ValidationResult> {
    // no value (`undefined`, which JSON has no text for) is checked as null
    const json = (await jsonTextSliced(value, slice)) ?? 'null';
    const most = Math.floor(this.#limits.heapMb * 2 ** 20 * MAX_TEXT_HEAP_SHARE);
    if (json.length > most) return tooLargeAnswer(json.length, most);
    const answer = await this.#ask({ type: 'check', id: 0, key, slug, which, json }, text);
    if ('result' in answer) {
      if (answer.valueJson === undefined || !answer.result.success) return answer.result;
      await slice.pause();
      return { success: true, value: await parseJsonSliced(answer.valueJson, slice) };
    }
    if ('error' in answer) throw new ToolMuxError(answer.error);
    throw new Error('the schema validation thread answered a check with a null plan');
  }

  /** The null-stripping plan (`nullPlanOf`) of the schema whose JSON text is `text`, built in the thread. */
  async nullPlan(text: string): Promise<NullPlan | undefined> {
    const answer = await this.#ask({ type: 'nullPlan', id: 0, text });
    if ('plan' in answer) return answer.plan;
    throw new Error('the schema validation thread did not answer with a null plan');
  }

  #ask(message: Extract<ToValidationThread, { id: number }>, text?: string): Promise<FromValidationThread> {
    message.id = ++this.#nextId;
    const owner = validationOwner.getStore();
    return new Promise<FromValidationThread>((resolve, reject) => {
      let lane = this.#lanes.get(owner);
      if (lane === undefined) {
        lane = { waiting: [], lastTurn: 0 };
        this.#lanes.set(owner, lane);
      }
      lane.waiting.push({ message, text, resolve, reject });
      this.#postNext();
    });
  }

  /**
   * Posts the next message if the thread has none: the first of the owner whose turn it is (whose
   * last turn is the oldest; one that had none since it last had nothing waiting goes first, in the
   * order they came), with its schema text if the thread was not sent it.
   */
  #postNext(): void {
    while (this.#running === undefined) {
      let next: Lane | undefined;
      for (const [owner, lane] of this.#lanes) {
        if (lane.waiting.length === 0) this.#lanes.delete(owner);
        else if (next === undefined || lane.lastTurn < next.lastTurn) next = lane;
      }
      if (next === undefined) {
        this.#worker?.unref();
        return;
      }
      const pending = next.waiting.shift()!;
      next.lastTurn = ++this.#turns;
      let worker: Worker;
      try {
        worker = this.#thread();
      } catch (error) {
        // `new Worker` throws when the system gives the process no thread (ERR_WORKER_INIT_FAILED:
        // EAGAIN, a container at its limit of processes): this message fails saying so, the next
        // one tries again. (Thrown from here, it reached a timer's or the thread's event handler:
        // uncaught, it ended the process, and the message taken from its lane was never answered.)
        pending.reject(
          new Error(`the schema validation thread could not start (${(error as Error).message})`, {
            cause: error,
          }),
        );
        continue;
      }
      const { message } = pending;
      if (message.type === 'check') {
        if (this.#sent.has(message.key)) delete message.text;
        else message.text = pending.text;
      }
      try {
        worker.postMessage(message);
      } catch (error) {
        // a value that cannot be cloned (the call path hands over plain JSON data only)
        pending.reject(error as Error);
        continue;
      }
      if (message.type === 'check') this.#sent.add(message.key);
      worker.ref();
      this.#startClock(
        pending,
        message.type === 'nullPlan' || message.text !== undefined ? 'compile' : 'check',
      );
    }
  }

  /** Starts the budget of `pending`'s phase: compiling its document (or a null plan), or its check. */
  #startClock(pending: Pending, phase: Running['phase']): void {
    this.#stopClock();
    const { message } = pending;
    const budgetMs =
      phase === 'compile'
        ? this.#limits.compileMs
        : this.#limits.checkMs +
          (this.#limits.checkPerMbMs * ('json' in message ? (message.json?.length ?? 0) : 0)) / 2 ** 20;
    const running: Running = {
      pending,
      phase,
      budgetMs,
      startedAt: performance.now(),
      // most messages are answered before it: asking the thread's CPU time costs about as much as
      // posting one
      timer: setTimeout(
        () => {
          // a thread not started yet has used none
          running.startedCpu = this.#cpuMicros(0);
          running.timer = setTimeout(() => void this.#overrun(running), budgetMs - CPU_SAMPLE_DELAY_MS);
          running.timer.unref();
        },
        Math.min(CPU_SAMPLE_DELAY_MS, budgetMs),
      ),
    };
    running.timer.unref();
    this.#running = running;
  }

  #stopClock(): void {
    if (this.#running) clearTimeout(this.#running.timer);
    this.#running = undefined;
  }

  /**
   * The thread's CPU time (µs), where Node.js tells it (`worker.cpuUsage()`, 24.6+); `notRunning`
   * while the thread has not started or has ended.
   */
  async #cpuMicros(notRunning?: number): Promise<number | undefined> {
    const worker = this.#worker as (Worker & { cpuUsage?(): Promise<NodeJS.CpuUsage> }) | undefined;
    if (typeof worker?.cpuUsage !== 'function') return undefined;
    try {
      const { user, system } = await worker.cpuUsage();
      return user + system;
    } catch {
      return notRunning;
    }
  }

  /**
   * The running message's budget is spent in wall time: if the thread's CPU time says it is spent
   * too (a loaded machine gives it less than the wall time), the message is given up.
   */
  async #overrun(running: Running): Promise<void> {
    const [started, now] = await Promise.all([running.startedCpu, this.#cpuMicros()]);
    if (this.#running !== running) return;
    // the time before the first sample counted whole
    const usedMs =
      started === undefined || now === undefined ? Infinity : (now - started) / 1000 + CPU_SAMPLE_DELAY_MS;
    const wallMs = performance.now() - running.startedAt;
    if (usedMs < running.budgetMs && wallMs < running.budgetMs * WALL_TIME_FACTOR) {
      running.timer = setTimeout(() => void this.#overrun(running), Math.max(running.budgetMs - usedMs, 10));
      running.timer.unref();
      return;
    }
    const { message } = running.pending;
    const spent = `it took more than ${Math.round(running.budgetMs).toLocaleString('en')} ms`;
    this.#restart((pending) =>
      message.type === 'check'
        ? pending.resolve(overrunAnswer(message, running.phase, spent))
        : pending.reject(
            new Error(`the schema validation thread did not work out a null plan in time (${spent})`),
          ),
    );
  }

  /**
   * Ends the thread: the message it was working on is settled by `settle`, and the next one is
   * posted to a new thread (which is sent the schemas again).
   */
  #restart(settle: (pending: Pending) => void): void {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#sent.clear();
    const running = this.#running?.pending;
    this.#stopClock();
    void worker?.terminate();
    if (running) settle(running);
    this.#postNext();
  }

  /** The document of `key` is no longer used: the thread drops its compiled form. */
  forget(key: number): void {
    if (!this.#sent.delete(key)) return;
    this.#worker?.postMessage({ type: 'forget', key });
  }

  /** Stops the thread (tests); checks waiting for it fail, the next check starts another. */
  async stop(): Promise<void> {
    this.#stopping = this.#worker;
    await this.#worker?.terminate();
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    // a heap of its own, so that running out of it ends this thread (its checks fail, the next one
    // starts another) rather than the process
    const worker = this.#spawn({ resourceLimits: { maxOldGenerationSizeMb: this.#limits.heapMb } });
    worker.unref();
    worker.on('message', (answer: FromValidationThread) => {
      const running = this.#running;
      if (this.#worker !== worker || running?.pending.message.id !== answer.id) return;
      if ('compiled' in answer) {
        if (running.phase === 'compile') this.#startClock(running.pending, 'check');
        return;
      }
      this.#stopClock();
      running.pending.resolve(answer);
      this.#postNext();
    });
    const failed = (why: string) => {
      if (this.#worker !== worker) return;
      const error = new Error(`the schema validation thread stopped (${why})`);
      if (this.#stopping === worker) {
        // and every message waiting
        this.#stopping = undefined;
        const waiting = [...this.#lanes.values()].flatMap((lane) => lane.waiting);
        this.#lanes.clear();
        for (const each of waiting) each.reject(error);
      }
      // the message it was working on fails (out of memory: most likely its cause); the others go
      // to a new thread
      this.#restart((pending) => pending.reject(error));
    };
    worker.on('error', (error) => failed(error.message));
    worker.on('exit', (code) => failed(`exit code ${code}`));
    this.#worker = worker;
    return worker;
  }
}

/** Starts a validation thread (`validation-worker.ts` beside this file; see {@link spawnModuleThread}). */
export function spawnValidationThread(options: WorkerOptions): Worker {
  return spawnModuleThread(import.meta.url, 'validation-worker', options);
}

/**
 * Whose check a message of the validation thread is (a session's id: `executeTool` runs a call in
 * it): the thread's messages are posted taking turns between owners. Unset: one owner of its own.
 */
export const validationOwner = new AsyncLocalStorage<string>();

/**
 * The answer to a check that overran its budget, compiling its document or checking the value: it
 * fails closed (as a pattern test past its budget does), the value refused as not checked in time.
 */
/** A check refused unchecked: `chars` of JSON text, past the `most` the thread is given. */
function tooLargeAnswer(chars: number, most: number): ValidationResult {
  const size = (count: number) => `${(count / 2 ** 20).toFixed(1)} MB`;
  return {
    success: false,
    issues: [
      {
        path: '(root)',
        message: `is too large to be checked against this schema (${size(chars)} of JSON, at most ${size(most)} for a schema this large or costly): send a smaller value, split it over several calls`,
      },
    ],
  };
}

function overrunAnswer(
  message: Extract<ToValidationThread, { type: 'check' }>,
  phase: Running['phase'],
  spent: string,
): FromValidationThread {
  if (phase === 'compile') {
    return {
      id: message.id,
      error: {
        code: 'TOOL_DEFINITION_INVALID',
        message: `Tool ${message.slug}: its ${message.which} schema could not be compiled in time (${spent} in the schema validation thread). Make the schema smaller or define it with zod.`,
      },
    };
  }
  return {
    id: message.id,
    result: {
      success: false,
      issues: [
        {
          path: '(root)',
          // a tool's result is not sent again: the words say what happened, not what to send
          message: `could not be checked against the schema in time (${spent} in the schema validation thread, which checks other calls too: this schema costs more to check than the value's size)${message.which === 'output' ? '' : '; send a smaller or less deeply nested value'}`,
        },
      ],
    },
  };
}

/** The validation thread's heap (old generation), in MB. */
const VALIDATION_THREAD_HEAP_MB = 1024;

/** The process's validation thread. */
export const validationThread = new ValidationThread();
