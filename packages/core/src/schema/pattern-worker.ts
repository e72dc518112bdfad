import {
  isMainThread,
  MessageChannel,
  type MessagePort,
  Worker,
  type WorkerOptions,
} from 'node:worker_threads';
import { workerThreadsPermitted } from '../util/module-thread.js';

/**
 * The time the regular expressions RE2 cannot run (lookaround, backreferences) may take in one
 * validation of a tool's arguments or result before any test is made (ms): past the budget, a test
 * counts as failed and the value is reported as not checked in time. A backtracking engine takes
 * 2^n steps on `^(?=a)(a+)+$` against n `a`s and a `!`: 26 of them held the event loop 0.3 s, each
 * more doubled it. Each test adds its share to the budget (see {@link PATTERN_TIME_PER_TEST_MICROS}),
 * so that the budget grows with the value: a fixed 100 ms refused 2,001 addresses checked against
 * zod's e-mail pattern on a loaded machine after 1,212 of them.
 */
export const PATTERN_TIME_BUDGET_MS = 20;

/**
 * The budget off the main thread (ms): in the validation thread, where a tool call's arguments are
 * checked against a schema with such a pattern, a test's wait holds no event loop but that thread's,
 * so the budget is there for patterns that would run for ever, and ordinary ones on a loaded machine
 * (whose time in the worker counts wall time) get room.
 */
export const PATTERN_TIME_BUDGET_OFF_MAIN_MS = 100;

/**
 * What each test adds to its validation's budget (µs), before it runs: its share for being made at
 * all. A short text's test takes 1–4 µs in the worker; the rest is room for a loaded machine, whose
 * cores the worker waits for in the middle of a test (1,212 addresses took 100 ms in all in CI).
 */
export const PATTERN_TIME_PER_TEST_MICROS = 100;

/**
 * What each character of a test's text adds to its validation's budget (µs): an ordinary pattern's
 * time grows with its text (lookaheads at each character: 20–400 ns a character were measured), so a
 * long text is given time in proportion, a megabyte a second, as the validation thread's check is.
 */
export const PATTERN_TIME_PER_CHARACTER_MICROS = 1;

/**
 * What a test may take beyond the budget left before it is given up (ms): the thread's wake-up and
 * the messages, which the budget does not count (only the worker's own time in the expression does),
 * on a machine whose cores are busy.
 */
const ANSWER_SLACK_MS = 10;

/** The longest a test waits for a worker thread to come up (ms); it takes tens of milliseconds. */
const START_LIMIT_MS = 2_000;

/**
 * The longest a test waits for the worker to take it up (ms): the thread is idle then, so only a
 * machine whose cores are all busy delays it, which the budget does not count (a test under load
 * was given up before it began).
 */
const PICKUP_LIMIT_MS = 1_000;

/** Compiled expressions the worker keeps, by flags and source; past this many it starts over. */
const MAX_CACHED_EXPRESSIONS = 256;

/** `state[STATUS]`: where the worker is; `state[MICROS]`: how long its last test ran (µs). */
const STATUS = 0;
const MICROS = 1;
const STARTING = 0;
const IDLE = 1;
const ASKED = 2;
const RUNNING = 3;
const MATCHED = 4;
const NOT_MATCHED = 5;
/** The expression threw (its backtracking stack overflowed): it could not be checked. */
const FAILED = 6;

/**
 * The worker: waits on the shared memory for a test, takes it from its port without a turn of its
 * event loop, runs it and writes the answer and its time back. Evaluated as the main script's kind
 * (a module under `node --input-type=module -e`), so it uses no `require`.
 */
const WORKER_SOURCE = `
const { receiveMessageOnPort, workerData } = process.getBuiltinModule('node:worker_threads');
const state = new Int32Array(workerData.shared);
const port = workerData.port;
const expressions = new Map();
Atomics.store(state, ${STATUS}, ${IDLE});
Atomics.notify(state, ${STATUS});
for (;;) {
  for (let status; (status = Atomics.load(state, ${STATUS})) !== ${ASKED}; ) Atomics.wait(state, ${STATUS}, status);
  const [source, flags, text] = receiveMessageOnPort(port).message;
  Atomics.store(state, ${STATUS}, ${RUNNING});
  Atomics.notify(state, ${STATUS});
  const key = flags + '/' + source;
  let expression = expressions.get(key);
  if (expression === undefined) {
    if (expressions.size >= ${MAX_CACHED_EXPRESSIONS}) expressions.clear();
    expression = new RegExp(source, flags);
    expressions.set(key, expression);
  }
  let answer;
  const start = performance.now();
  try {
    answer = expression.test(text) ? ${MATCHED} : ${NOT_MATCHED};
  } catch {
    answer = ${FAILED};
  }
  // the expression's own time: the budget is for what a pattern and a text can make last, the
  // messages cost the same for every test
  state[${MICROS}] = Math.min(2 ** 31 - 1, Math.ceil((performance.now() - start) * 1000));
  Atomics.store(state, ${STATUS}, answer);
  Atomics.notify(state, ${STATUS});
}
`;

/**
 * The pattern tests of one validation: the time they may still take, and the ones that did not
 * finish in it (their texts by pattern), which the validation reports as not checked. The budget
 * starts at the validation's base (20 ms on the main thread, 100 ms off it) and each test adds its
 * share (see {@link PATTERN_TIME_PER_TEST_MICROS}) before it runs, so what the tests may take in
 * all grows with the value, as the rest of its check does. One test may take at most the base and
 * its own share, not what the tests before it left over: a pattern that backtracks for ever is given
 * up as soon on the thousandth text as on the first. After a test that did not finish, none is run.
 */
export class PatternChecks {
  readonly #baseMicros: number;
  #remainingMicros: number;
  /** A test did not finish: the ones after it are not run. */
  #spent = false;
  /** Texts whose test did not finish, by pattern source. */
  readonly #unfinished = new Map<string, Set<string>>();

  constructor(budgetMs = isMainThread ? PATTERN_TIME_BUDGET_MS : PATTERN_TIME_BUDGET_OFF_MAIN_MS) {
    this.#baseMicros = budgetMs * 1000;
    this.#remainingMicros = this.#baseMicros;
  }

  /** Whether every test finished (in time). */
  get allFinished(): boolean {
    return this.#unfinished.size === 0;
  }

  /** Whether the test of `text` against `pattern` did not finish. */
  unfinished(pattern: string, text: string): boolean {
    return this.#unfinished.get(pattern)?.has(text) ?? false;
  }

  /** Every test that did not finish. */
  *unfinishedTests(): Iterable<{ pattern: string; text: string }> {
    for (const [pattern, texts] of this.#unfinished) for (const text of texts) yield { pattern, text };
  }

  /** Runs one test in the worker within the time it may take; `false` (noted as unfinished) past it. */
  test(source: string, flags: string, text: string): boolean {
    let answer: { matched: boolean; micros: number } | undefined;
    if (!this.#spent) {
      const share = PATTERN_TIME_PER_TEST_MICROS + text.length * PATTERN_TIME_PER_CHARACTER_MICROS;
      this.#remainingMicros += share;
      // a test that finished just past the time left (the wait has some slack) leaves none
      const allowed = Math.min(this.#remainingMicros, this.#baseMicros + share);
      if (allowed > 0) answer = patternWorker.test(source, flags, text, allowed);
    }
    if (answer === undefined) {
      this.#spent = true;
      const texts = this.#unfinished.get(source) ?? new Set();
      this.#unfinished.set(source, texts.add(text));
      return false;
    }
    this.#remainingMicros -= answer.micros;
    return answer.matched;
  }
}

let current: PatternChecks | undefined;

/**
 * Runs `run` (synchronous: Ajv's validator) with `checks` as the budget of the pattern tests it makes
 * (see {@link testPatternInWorker}).
 */
export function withPatternChecks<T>(checks: PatternChecks, run: () => T): T {
  const outer = current;
  current = checks;
  try {
    return run();
  } finally {
    current = outer;
  }
}

/**
 * Whether `text` matches `/source/flags`, run by `RegExp` on a worker thread and given up when it
 * takes longer than the budget of the validation that asks (see {@link withPatternChecks}; a test
 * outside one has a budget of its own): the thread is then ended, which interrupts the expression,
 * and the test counts as failed.
 */
export function testPatternInWorker(source: string, flags: string, text: string): boolean {
  return (current ?? new PatternChecks()).test(source, flags, text);
}

/** Starts the worker thread unless it runs: when a pattern that needs it is compiled, before its first test. */
export function startPatternWorker(): void {
  patternWorker.start();
}

/**
 * Why the pattern worker's last thread could not start, until a test is answered (`undefined` when
 * it runs, or was not needed yet).
 */
export function patternWorkerCannotStart(): string | undefined {
  return patternWorker.cannotStart;
}

/**
 * Tests: starts the pattern worker's threads with `spawn` (`undefined`: `new Worker`), after
 * ending the one that runs.
 */
export function spawnPatternThreadsWith(spawn?: (source: string, options: WorkerOptions) => Worker): void {
  patternWorker.startThreadsWith(spawn ?? newWorker);
}

/**
 * While the worker thread is coming up (the first pattern that needs it was compiled, or a test that
 * took too long ended the last one): resolves once it is up, so that a caller that can wait (a
 * tool call, before it validates) does not block the event loop waiting for it in a test. Otherwise
 * `undefined`.
 */
export function patternWorkerStarting(): Promise<unknown> | undefined {
  return patternWorker.starting();
}

function newWorker(source: string, options: WorkerOptions): Worker {
  return new Worker(source, options);
}

/**
 * The one worker thread of the process that runs patterns: started at the first pattern that needs it,
 * ended and started again when a test takes too long. Called synchronously (Ajv's validator is): the
 * main thread posts a test and waits on shared memory for the answer. Unref'd, so it never keeps the
 * process alive; idle, it sleeps on the shared memory.
 */
class PatternWorker {
  #worker: Worker | undefined;
  #port: MessagePort | undefined;
  #state: Int32Array | undefined;
  /** After a test that took too long: resolves once the thread that replaces the ended one is up. */
  #restarting: Promise<unknown> | undefined;
  /**
   * Why the last thread could not start (`new Worker` threw, the thread failed as it loaded, or it did
   * not come up in time), until a test is answered: what a value not checked is told.
   */
  cannotStart: string | undefined;
  /** Starts a thread (a test can start threads that cannot start). */
  #spawn = newWorker;

  start(): void {
    // a process that may not start threads refuses such patterns' values (see `notCheckedIn`)
    if (this.#worker || !workerThreadsPermitted()) return;
    const shared = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
    const { port1, port2 } = new MessageChannel();
    try {
      this.#worker = this.#spawn(WORKER_SOURCE, {
        eval: true,
        workerData: { shared, port: port2 },
        transferList: [port2],
        // the main script's options (`-e`, `--input-type`) are not the worker's
        execArgv: [],
      });
    } catch (error) {
      // the system gives the process no thread (ERR_WORKER_INIT_FAILED: EAGAIN)
      this.cannotStart = (error as Error).message;
      port1.close();
      return;
    }
    this.#worker.unref();
    // a thread that fails to start leaves its status at STARTING: tests wait for it at most
    // START_LIMIT_MS, and the next one starts another
    const worker = this.#worker;
    worker.on('error', (error) => {
      if (this.#worker !== worker) return;
      if (this.#state && Atomics.load(this.#state, STATUS) === STARTING)
        this.cannotStart = `it failed as it started: ${error.message}`;
      this.#end();
    });
    port1.unref();
    this.#port = port1;
    this.#state = new Int32Array(shared);
  }

  starting(): Promise<unknown> | undefined {
    if (this.#restarting) return this.#restarting;
    const state = this.#state;
    if (!state || Atomics.load(state, STATUS) !== STARTING) return undefined;
    const wait = Atomics.waitAsync(state, STATUS, STARTING, START_LIMIT_MS);
    if (!wait.async) return undefined;
    // the wait alone does not keep the process alive (a script awaiting it would end there)
    const alive = setTimeout(() => {}, START_LIMIT_MS);
    return wait.value.finally(() => clearTimeout(alive));
  }

  /**
   * The answer and the worker's time in the expression (µs), or `undefined` when it did not come
   * within `budgetMicros` (and {@link ANSWER_SLACK_MS}) or the thread could not start.
   */
  test(
    source: string,
    flags: string,
    text: string,
    budgetMicros: number,
  ): { matched: boolean; micros: number } | undefined {
    this.start();
    const state = this.#state;
    const port = this.#port;
    if (!state || !port) return undefined;
    if (Atomics.load(state, STATUS) === STARTING) {
      Atomics.wait(state, STATUS, STARTING, START_LIMIT_MS);
      if (Atomics.load(state, STATUS) === STARTING) {
        this.cannotStart = `it did not start within ${START_LIMIT_MS} ms`;
        this.#end();
        return undefined;
      }
    }
    port.postMessage([source, flags, text]);
    Atomics.store(state, STATUS, ASKED);
    Atomics.notify(state, STATUS);
    Atomics.wait(state, STATUS, ASKED, PICKUP_LIMIT_MS);
    Atomics.wait(state, STATUS, RUNNING, budgetMicros / 1000 + ANSWER_SLACK_MS);
    const status = Atomics.load(state, STATUS);
    if (status === ASKED || status === RUNNING) {
      // the expression is still running (or the thread is gone): ending the thread interrupts it. The
      // next one is made in a task of its own (`new Worker` holds the event loop 10-20 ms), unless a
      // test needs it first
      this.#end();
      this.#restarting ??= new Promise((resolve) => setTimeout(resolve, 0)).then(() => {
        this.#restarting = undefined;
        this.start();
        return this.starting();
      });
      return undefined;
    }
    const micros = state[MICROS]!;
    Atomics.store(state, STATUS, IDLE);
    this.cannotStart = undefined;
    // the expression threw (its backtracking stack overflowed): not checked either
    if (status === FAILED) return undefined;
    return { matched: status === MATCHED, micros };
  }

  /** Starts the next threads with `spawn`, after ending the one that runs (tests). */
  startThreadsWith(spawn: (source: string, options: WorkerOptions) => Worker): void {
    this.#spawn = spawn;
    this.#end();
  }

  #end(): void {
    void this.#worker?.terminate();
    this.#port?.close();
    this.#worker = undefined;
    this.#port = undefined;
    this.#state = undefined;
  }
}

const patternWorker = new PatternWorker();
