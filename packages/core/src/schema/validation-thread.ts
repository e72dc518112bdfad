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

/** The thread's answer: a check's result, why the document cannot be compiled, or a null plan. */
export type FromValidationThread =
  | { id: number; result: ValidationResult; valueJson?: string }
  | { id: number; error: { code: ToolMuxErrorCode; message: string } }
  | { id: number; plan: NullPlan | undefined };

interface Pending {
  resolve(answer: FromValidationThread): void;
  reject(error: Error): void;
}

/**
 * One worker thread that compiles large tool schemas and checks values against them, so that neither
 * holds the event loop: Ajv turns a schema into JavaScript source (hundreds of characters per
 * subschema) and V8 compiles that source in one go, both in one turn. A schema of 200 subschemas (the
 * largest of GitHub's REST API) held the loop for tens of milliseconds at its tool's first call, one
 * of 10,000 (the most a tool may have) for seconds. The thread starts at the first check, keeps
 * compiled documents until they are forgotten, and does not keep the process alive while idle.
 */
export class ValidationThread {
  #worker: Worker | undefined;
  /** Keys whose document the current thread was sent (a new thread is sent them again). */
  #sent = new Set<number>();
  #pending = new Map<number, Pending>();
  #nextId = 0;

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
    if (!this.#sent.has(key)) message.text = text;
    const answer = await this.#ask(message, () => this.#sent.add(key));
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

  #ask(
    message: Extract<ToValidationThread, { id: number }>,
    posted?: () => void,
  ): Promise<FromValidationThread> {
    const worker = this.#thread();
    message.id = ++this.#nextId;
    const { id } = message;
    return new Promise<FromValidationThread>((resolve, reject) => {
      try {
        worker.postMessage(message);
      } catch (error) {
        // a value that cannot be cloned (the call path hands over plain JSON data only)
        reject(error as Error);
        return;
      }
      posted?.();
      if (this.#pending.size === 0) worker.ref();
      this.#pending.set(id, { resolve, reject });
    });
  }

  /** The document of `key` is no longer used: the thread drops its compiled form. */
  forget(key: number): void {
    if (!this.#sent.delete(key)) return;
    this.#worker?.postMessage({ type: 'forget', key });
  }

  /** Stops the thread (tests); checks waiting for it fail, the next check starts another. */
  async stop(): Promise<void> {
    await this.#worker?.terminate();
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    // a heap of its own, so that running out of it ends this thread (its checks fail, the next one
    // starts another) rather than the process
    const worker = spawnModuleThread(import.meta.url, 'validation-worker', {
      resourceLimits: { maxOldGenerationSizeMb: VALIDATION_THREAD_HEAP_MB },
    });
    worker.unref();
    worker.on('message', (answer: FromValidationThread) => {
      const pending = this.#pending.get(answer.id);
      if (!pending) return;
      this.#settled(answer.id);
      pending.resolve(answer);
    });
    const failed = (why: string) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#sent.clear();
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const each of pending) each.reject(new Error(`the schema validation thread stopped (${why})`));
    };
    worker.on('error', (error) => failed(error.message));
    worker.on('exit', (code) => failed(`exit code ${code}`));
    this.#worker = worker;
    return worker;
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker?.unref();
  }
}

/** The validation thread's heap (old generation), in MB. */
const VALIDATION_THREAD_HEAP_MB = 1024;

/** The process's validation thread. */
export const validationThread = new ValidationThread();
