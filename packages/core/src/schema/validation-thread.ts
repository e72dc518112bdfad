import type { Worker } from 'node:worker_threads';
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
      /** The value, as a structured clone; or its JSON text (then the answer's value is JSON text too). */
      value?: unknown;
      json?: string;
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

/** A message posted to the thread and not answered yet. */
interface Pending {
  message: Extract<ToValidationThread, { id: number }>;
  /** A check's schema text: sent with it again to a thread that was not sent it (a new one). */
  text?: string;
  resolve(answer: FromValidationThread): void;
  reject(error: Error): void;
}

/** The message the thread works on (the oldest pending: it takes them in order), and its budget. */
interface Running {
  id: number;
  /** Compiling a document (a check's first in the thread, or a null plan's walk), or checking a value. */
  phase: 'compile' | 'check';
  budgetMs: number;
  startedAt: number;
  /** The thread's CPU time (µs) when it began, where Node.js tells it (24+; wall time otherwise). */
  startedCpu: Promise<number | undefined>;
  timer: NodeJS.Timeout;
}

/**
 * The time one check of a value may hold the validation thread, before its part per megabyte of the
 * value (ms, the thread's CPU time where Node.js tells it, wall time otherwise): past it the thread
 * is ended and the value refused as not checked in time. Every other check, of every session, waits
 * behind the one in the thread: Ajv's `uniqueItems` over 230 KB of objects held it 11 s (it compares
 * every pair; a megabyte: minutes). Ordinary checks take milliseconds (a megabyte of items tens),
 * and a pattern RE2 cannot run has 100 ms of its own in a check.
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
 * How much longer than its budget in wall time a message may hold the thread when its CPU time is
 * counted (a loaded machine), before it is given up all the same (a thread that waits, not works).
 */
const WALL_TIME_FACTOR = 10;

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
 * The thread takes one message at a time, in the order posted, for every session: the oldest one
 * pending is the one it works on, and it has a time budget (see {@link CHECK_TIME_BUDGET_MS}; a
 * document's first compile has one of its own). Past it the thread is ended, the message answered as
 * not checked in time, and the others posted again to a new thread: nothing else can stop Ajv's
 * synchronous check. A thread that ends otherwise (out of memory) fails the message it was on.
 */
export class ValidationThread {
  #worker: Worker | undefined;
  /** Keys whose document the current thread was sent (a new thread is sent them again). */
  #sent = new Set<number>();
  /** In the order posted, which is the order the thread takes them in. */
  #pending = new Map<number, Pending>();
  #running: Running | undefined;
  /** The thread `stop()` ends: its messages fail, none is posted again. */
  #stopping: Worker | undefined;
  #nextId = 0;
  readonly #limits: ValidationThreadLimits;

  constructor(limits: Partial<ValidationThreadLimits> = {}) {
    this.#limits = {
      checkMs: CHECK_TIME_BUDGET_MS,
      checkPerMbMs: CHECK_TIME_BUDGET_PER_MB_MS,
      compileMs: COMPILE_TIME_BUDGET_MS,
      heapMb: VALIDATION_THREAD_HEAP_MB,
      ...limits,
    };
  }

  /**
   * Checks `value` against the schema of `key` (`text`, its JSON text, sent the first time), compiled
   * there as `compileDocument` does. The thread receives a structured clone of the value; given a
   * `slice`, its JSON text instead, written a slice at a time, and the value it answers (with its
   * defaults) is JSON text read a slice at a time: a structured clone is one turn at each end (a
   * call of a megabyte of items held the loop 7–9 ms of CPU for it; the value must be plain JSON
   * data then).
   */
  async check(
    key: number,
    text: string,
    slug: string,
    which: 'input' | 'output',
    value: unknown,
    slice?: Slice,
  ): Promise<ValidationResult> {
    const message: ToValidationThread = { type: 'check', id: 0, key, slug, which };
    if (slice) message.json = await jsonTextSliced(value, slice);
    else message.value = value;
    const answer = await this.#ask(message, text);
    if ('result' in answer) {
      if (answer.valueJson === undefined || !slice || !answer.result.success) return answer.result;
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
    return new Promise<FromValidationThread>((resolve, reject) => {
      this.#post({ message, text, resolve, reject });
    });
  }

  /** Posts a message (again, to a new thread), with its schema text where this thread was not sent it. */
  #post(pending: Pending): void {
    const worker = this.#thread();
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
      return;
    }
    if (message.type === 'check') this.#sent.add(message.key);
    if (this.#pending.size === 0) worker.ref();
    this.#pending.set(message.id, pending);
    this.#run();
  }

  /**
   * Starts the budget of the message the thread works on (the oldest pending), if not started: the
   * thread takes messages one at a time, in order, and a check that ran long held every other one.
   * A compile (a check's first in the thread, a null plan) has a budget of its own, then the check.
   */
  #run(phase?: 'check'): void {
    const next = this.#pending.entries().next();
    if (next.done) {
      this.#stopClock();
      return;
    }
    const [id, { message }] = next.value;
    if (this.#running?.id === id && (phase === undefined || this.#running.phase === phase)) return;
    const nextPhase =
      phase ?? (message.type === 'nullPlan' || message.text !== undefined ? 'compile' : 'check');
    this.#stopClock();
    const budgetMs =
      nextPhase === 'compile'
        ? this.#limits.compileMs
        : this.#limits.checkMs +
          (this.#limits.checkPerMbMs * ('json' in message ? (message.json?.length ?? 0) : 0)) / 2 ** 20;
    const running: Running = {
      id,
      phase: nextPhase,
      budgetMs,
      startedAt: performance.now(),
      // a thread not started yet has used none
      startedCpu: this.#cpuMicros(0),
      timer: setTimeout(() => void this.#overrun(running), budgetMs),
    };
    running.timer.unref();
    this.#running = running;
  }

  #stopClock(): void {
    if (this.#running) clearTimeout(this.#running.timer);
    this.#running = undefined;
  }

  /**
   * The thread's CPU time (µs), where Node.js tells it (`worker.cpuUsage()`, 24+); `notRunning`
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
    const usedMs = started === undefined || now === undefined ? Infinity : (now - started) / 1000;
    const wallMs = performance.now() - running.startedAt;
    if (usedMs < running.budgetMs && wallMs < running.budgetMs * WALL_TIME_FACTOR) {
      running.timer = setTimeout(() => void this.#overrun(running), Math.max(running.budgetMs - usedMs, 10));
      running.timer.unref();
      return;
    }
    const { message } = this.#pending.get(running.id)!;
    const spent = `it took more than ${Math.round(running.budgetMs).toLocaleString('en')} ms`;
    this.#restart(running.id, (each) =>
      message.type === 'check'
        ? each.resolve(overrunAnswer(message, running.phase, spent))
        : each.reject(
            new Error(`the schema validation thread did not work out a null plan in time (${spent})`),
          ),
    );
  }

  /**
   * Ends the thread: the message `id` (the one it was working on; every one without it, for
   * `stop()`) is settled by `settle`, and the others are posted again, in order, to a new thread
   * (which is sent their schemas again).
   */
  #restart(id: number | undefined, settle: (pending: Pending) => void): void {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#sent.clear();
    this.#stopClock();
    const pending = [...this.#pending];
    this.#pending.clear();
    void worker?.terminate();
    for (const [each, entry] of pending) {
      if (id === undefined || each === id) settle(entry);
      else this.#post(entry);
    }
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
    const worker = spawnModuleThread(import.meta.url, 'validation-worker', {
      resourceLimits: { maxOldGenerationSizeMb: this.#limits.heapMb },
    });
    worker.unref();
    worker.on('message', (answer: FromValidationThread) => {
      if (this.#worker !== worker) return;
      const pending = this.#pending.get(answer.id);
      if (!pending) return;
      if ('compiled' in answer) {
        if (this.#running?.id === answer.id) this.#run('check');
        return;
      }
      this.#settled(answer.id);
      pending.resolve(answer);
    });
    // the message it was working on fails (out of memory: most likely its cause); the others go to
    // a new thread
    const failed = (why: string) => {
      if (this.#worker !== worker) return;
      const error = new Error(`the schema validation thread stopped (${why})`);
      if (this.#stopping === worker) {
        this.#stopping = undefined;
        this.#restart(undefined, (each) => each.reject(error));
        return;
      }
      const running = this.#pending.keys().next();
      this.#restart(running.done ? undefined : running.value, (each) => each.reject(error));
    };
    worker.on('error', (error) => failed(error.message));
    worker.on('exit', (code) => failed(`exit code ${code}`));
    this.#worker = worker;
    return worker;
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker?.unref();
    this.#run();
  }
}

/**
 * The answer to a check that overran its budget, compiling its document or checking the value: it
 * fails closed (as a pattern test past its budget does), the value refused as not checked in time.
 */
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
          message: `could not be checked against the schema in time (${spent} in the schema validation thread, which checks other calls too; keywords such as uniqueItems over many objects cost more than the value's size); send a smaller value`,
        },
      ],
    },
  };
}

/** The validation thread's heap (old generation), in MB. */
const VALIDATION_THREAD_HEAP_MB = 1024;

/** The process's validation thread. */
export const validationThread = new ValidationThread();
