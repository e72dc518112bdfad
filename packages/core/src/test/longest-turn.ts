import {
  monitorEventLoopDelay,
  type PerformanceEntry,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';

/** CPU time of this thread, in ms (time the thread waited for a core does not count). */
function threadCpuMs(): number {
  const usage = process.threadCpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** What {@link longestTurn} measured in its best run. */
export interface LongestTurn<T> {
  /**
   * The longest turn of the event loop in CPU time of this thread (ms), between ticks of a 1 ms
   * timer, not counting the garbage collector's pauses in that turn (each at the share of a core the
   * thread had in the turn: see {@link longestOwnTurn}).
   */
  turnMs: number;
  /** The longest turn counting the garbage collector's pauses (CPU ms): shown in failure messages. */
  withGcMs: number;
  /** The longest event-loop delay (ms, `monitorEventLoopDelay`); shown in failure messages. */
  delayMs: number;
  /** What `run` answered in that run. */
  value: T;
}

/** One turn of the event loop: its wall-time span (`performance.now()`) and the thread's CPU in it. */
export interface Turn {
  from: number;
  to: number;
  cpuMs: number;
}

/**
 * The longest of `turns` in CPU time less the garbage collector's pauses that began in it. A pause
 * is the collector's (its length follows the whole heap: the test's fixtures, vitest, other tests'
 * leftovers), not the code under test's, and on a loaded machine one major collection took 40–50
 * ms in a turn whose own work took under 10; the code's own share is what a test bounds.
 *
 * A pause's `duration` is wall time, and on a loaded machine the thread waits for a core inside a
 * pause as it does outside one (a scavenge of a few ms of CPU lasted 26–31 ms at load 10). So a
 * pause is charged at the share of a core the thread had in its turn (the turn's CPU over its wall
 * time), which always lies between the least and the most CPU the pauses can have used; charging
 * the whole wall time took all but 0.5 ms off a turn that held the thread for 60 ms of CPU.
 */
export function longestOwnTurn(
  turns: Turn[],
  collections: PerformanceEntry[],
): { turnMs: number; withGcMs: number } {
  const pauses = [...collections].sort((a, b) => a.startTime - b.startTime);
  const longest = { turnMs: 0, withGcMs: 0 };
  let next = 0;
  for (const turn of turns) {
    while (next < pauses.length && pauses[next]!.startTime <= turn.from) next++;
    let gcWallMs = 0;
    for (; next < pauses.length && pauses[next]!.startTime <= turn.to; next++)
      gcWallMs += pauses[next]!.duration;
    const wallMs = turn.to - turn.from;
    const coreShare = wallMs > 0 ? Math.min(1, turn.cpuMs / wallMs) : 1;
    longest.turnMs = Math.max(longest.turnMs, turn.cpuMs - Math.min(gcWallMs, wallMs) * coreShare);
    longest.withGcMs = Math.max(longest.withGcMs, turn.cpuMs);
  }
  return longest;
}

/**
 * While `run` runs, between the ticks of a 1 ms interval (started before it): the longest gap in
 * wall time, and the most CPU time of this thread between two ticks. Unlike {@link longestTurn} it
 * runs `run` once and keeps the wall time: a loaded machine stretches the gaps without anything
 * holding the loop, so a bound on what code holds the loop for is on `cpuMs`, while `gapMs` says
 * how long a synchronous wait (an `Atomics.wait`, which uses no CPU) lasted.
 */
export async function longestTick<T>(
  run: () => T | Promise<T>,
): Promise<{ value: T; gapMs: number; cpuMs: number }> {
  let last = performance.now();
  let lastCpu = threadCpuMs();
  let gapMs = 0;
  let cpuMs = 0;
  const tick = () => {
    const now = performance.now();
    const cpu = threadCpuMs();
    gapMs = Math.max(gapMs, now - last);
    cpuMs = Math.max(cpuMs, cpu - lastCpu);
    last = now;
    lastCpu = cpu;
  };
  const timer = setInterval(tick, 1);
  try {
    await new Promise((resolve) => setTimeout(resolve, 5));
    gapMs = 0;
    cpuMs = 0;
    last = performance.now();
    lastCpu = threadCpuMs();
    const value = await run();
    // the tick after a block measures it
    await new Promise((resolve) => setTimeout(resolve, 3));
    tick();
    return { value, gapMs, cpuMs };
  } finally {
    clearInterval(timer);
  }
}

/**
 * While `run` runs: the longest turn of the event loop in CPU time of this thread, which a loaded
 * machine taking the core away inflates far less than wall time (a test's bound holds on a shared
 * 2-core machine), less the garbage collector's pauses in it, and the longest event-loop delay.
 * `monitorEventLoopDelay` alone takes no sample while the loop is held, so a fully synchronous read
 * shows as 0 there. The best of up to `attempts` runs (default 3); a run whose longest turn is at
 * or under `bound` ends the search.
 *
 * @example
 * const { turnMs } = await longestTurn(() => store.listLogs({ limit: 1000 }), 40);
 * expect(turnMs).toBeLessThan(40);
 */
export async function longestTurn<T>(
  run: () => Promise<T>,
  bound = 0,
  attempts = 3,
): Promise<LongestTurn<T>> {
  let best: LongestTurn<T> | undefined;
  for (let attempt = 0; attempt < attempts && (best === undefined || best.turnMs > bound); attempt++) {
    const collections: PerformanceEntry[] = [];
    const observer = new PerformanceObserver((list) => {
      collections.push(...list.getEntries());
    });
    observer.observe({ entryTypes: ['gc'] });
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    const turns: Turn[] = [];
    let done = false;
    let cpuBefore = threadCpuMs();
    let wallBefore = performance.now();
    const tick = () => {
      const cpuNow = threadCpuMs();
      const wallNow = performance.now();
      turns.push({ from: wallBefore, to: wallNow, cpuMs: cpuNow - cpuBefore });
      cpuBefore = cpuNow;
      wallBefore = wallNow;
      if (!done) setTimeout(tick, 1);
    };
    setTimeout(tick, 1);
    histogram.enable();
    const value = await run();
    histogram.disable();
    done = true;
    // the turn that ended the run counts too (the tick already set measures it, and sets no other)
    await new Promise((resolve) => setTimeout(resolve, 5));
    collections.push(...observer.takeRecords());
    observer.disconnect();
    const result = { ...longestOwnTurn(turns, collections), delayMs: histogram.max / 1e6, value };
    if (best === undefined || result.turnMs < best.turnMs) best = result;
  }
  return best!;
}

/** A failure message's account of a {@link longestTurn} measurement. */
export function turnReport(turn: Pick<LongestTurn<unknown>, 'turnMs' | 'withGcMs' | 'delayMs'>): string {
  const ms = (value: number) => value.toFixed(1);
  return `longest turn ${ms(turn.turnMs)} ms of its own work (${ms(turn.withGcMs)} ms counting garbage collection; event-loop delay ${ms(turn.delayMs)} ms)`;
}
