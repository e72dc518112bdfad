/**
 * How many turns of the event loop pass while `run` runs, with the clock that `WorkSlice` reads
 * (`performance.now()`) moving on by `stepMs` at every look: sliced work is then due after a few
 * units whatever the machine's speed and load, so the count tells work done a slice at a time (it
 * grows with the work: a turn between slices) from work done in one turn (a few turns at most, for
 * the awaits of the store). Counts, not times: a test can hold it to a bound on any machine.
 *
 * @example
 * const { turns } = await turnsDuring(() => mux.create('user_1', { experimental: { customTools } }));
 * expect(turns).toBeGreaterThan(customTools.length / 10);
 */
export async function turnsDuring<T>(
  /** Given the count so far, for a test that notes in which turn something ran. */
  run: (turnsSoFar: () => number) => Promise<T>,
  options: { stepMs?: number } = {},
): Promise<{ turns: number; value: T }> {
  const stepMs = options.stepMs ?? 1;
  const own = Object.getOwnPropertyDescriptor(performance, 'now');
  let clock = performance.now();
  performance.now = () => {
    clock += stepMs;
    return clock;
  };
  let turns = 0;
  let counting = true;
  const count = () => {
    if (!counting) return;
    turns++;
    setImmediate(count);
  };
  setImmediate(count);
  try {
    const value = await run(() => turns);
    return { turns, value };
  } finally {
    counting = false;
    // the real clock again: the prototype's method, which the own property hid
    if (own) Object.defineProperty(performance, 'now', own);
    else delete (performance as { now?: unknown }).now;
  }
}
