/**
 * The longest stretch of synchronous work a REST request does on a large body or answer before it
 * lets other requests run (parsing, checking, writing chunks), so the event loop is never held for
 * the sum of them.
 */
export const SLICE_MS = 4;

/** Resolves on the event loop's next turn, after the I/O and timers waiting now have run. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Measures one call's synchronous work since its last pause (or `restart()` after an `await`).
 * `due()` is a clock read; only a call that has worked for {@link SLICE_MS} pauses at all, so the
 * small calls of one turn still share one log batch.
 *
 * @example
 * const slice = new WorkSlice();
 * heavyStage();
 * if (slice.due()) await slice.pause();
 */
export class WorkSlice {
  #start = performance.now();

  /** True once the work since the last pause took {@link SLICE_MS} or more. */
  due(): boolean {
    return performance.now() - this.#start >= SLICE_MS;
  }

  /** Lets the event loop run, then starts a new slice. */
  async pause(): Promise<void> {
    await yieldToEventLoop();
    this.#start = performance.now();
  }

  /**
   * Starts a new slice without pausing: after an `await`, during which other work ran and the
   * clock kept going, so that only this call's own work is measured.
   */
  restart(): void {
    this.#start = performance.now();
  }

  /** Pauses when {@link due}. */
  async breathe(): Promise<void> {
    if (this.due()) await this.pause();
  }
}

/**
 * Work written once as a generator that yields between its units (a tool, a declaration, a search
 * document), run either at once ({@link runSteps}) or a slice at a time ({@link runStepsSliced}):
 * both run the same code, so they give the same result and throw the same error at the same unit.
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs `steps` to the end in this turn. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** Runs `steps` to the end, pausing between two units whenever `slice` is due. */
export async function runStepsSliced<T>(steps: Steps<T>, slice: WorkSlice): Promise<T> {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    if (slice.due()) await slice.pause();
  }
}
