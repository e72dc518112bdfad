import { workbenchEnvNumber } from './env.js';
import type { SandboxSlicer } from './sandbox.js';

/**
 * The longest a turn of the event loop spends in workbench code on the main thread (ms) before that
 * code waits for a later turn. `TOOLMUX_WORKBENCH_SLICE_MS` sets it.
 */
export const WORKBENCH_SLICE_MS = workbenchEnvNumber('TOOLMUX_WORKBENCH_SLICE_MS') ?? 1;

/**
 * Time slices of the main thread for sandboxes that run on it. Workbench code of all sessions
 * together computes at most `sliceMs` per turn of the event loop (plus up to one interrupt interval
 * of the engine); code that is still computing then suspends (JSPI) and waits in a queue, and each
 * later turn resumes the next one in order: first come, first served, one per turn, so timers,
 * I/O and other requests run between any two slices, and 100 endless loops share the thread fairly
 * with each other and with ordinary calls.
 */
export class MainThreadSlices implements SandboxSlicer {
  readonly #sliceMs: number;
  /** When the slice of this turn began (performance.now()); its turn is open until the next check phase. */
  #sliceStart = 0;
  #turnOpen = false;
  readonly #waiting: Array<() => void> = [];
  #scheduled = false;
  /** Slices handed out after a wait (for tests and benchmarks). */
  resumed = 0;

  constructor(sliceMs = WORKBENCH_SLICE_MS) {
    this.#sliceMs = sliceMs;
  }

  /** How many computations wait for a slice. */
  get waiting(): number {
    return this.#waiting.length;
  }

  begin(): void {
    if (!this.#turnOpen) this.#open();
  }

  due(): boolean {
    return performance.now() - this.#sliceStart >= this.#sliceMs;
  }

  /**
   * Waits for a later turn when this turn's slice is used up (work on the main thread that cannot
   * be suspended, such as making a sandbox, runs one piece per slice).
   */
  async turn(): Promise<void> {
    if (this.#turnOpen && this.due()) await this.next(true);
    this.begin();
  }

  /**
   * Resolves when the caller may compute again: in order of asking, except that work which cannot
   * be suspended and ends soon (`first`, e.g. making a sandbox) goes before computations that wait
   * for their next slice.
   */
  next(first = false): Promise<void> {
    return new Promise((resolve) => {
      if (first) this.#waiting.splice(this.#firsts++, 0, resolve);
      else this.#waiting.push(resolve);
      this.#schedule();
    });
  }

  /** How many of the waiting are `first` ones (at the head of the queue). */
  #firsts = 0;

  #open(): void {
    this.#turnOpen = true;
    this.#sliceStart = performance.now();
    setImmediate(this.#close);
  }

  readonly #close = (): void => {
    this.#turnOpen = false;
  };

  #schedule(): void {
    if (this.#scheduled || this.#waiting.length === 0) return;
    this.#scheduled = true;
    setImmediate(this.#resumeNext);
  }

  /** One waiting computation gets the next slice (it runs right after this callback, as a microtask). */
  readonly #resumeNext = (): void => {
    this.#scheduled = false;
    const next = this.#waiting.shift();
    if (!next) return;
    if (this.#firsts > 0) this.#firsts--;
    this.resumed++;
    this.#turnOpen = false;
    this.#open();
    next();
    this.#schedule();
  };
}

let shared: MainThreadSlices | undefined;

/** The main thread's slices, shared by every sandbox on it. */
export function mainThreadSlices(): MainThreadSlices {
  shared ??= new MainThreadSlices();
  return shared;
}
