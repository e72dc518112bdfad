/**
 * A tiny benchmark harness: warm up, then time batches and keep the median of several rounds.
 * Results are only compared as ratios within one run (the machines are shared and noisy).
 */
export interface Measurement {
  name: string;
  /** Median nanoseconds per operation over the rounds. */
  nsPerOp: number;
  opsPerSecond: number;
}

export async function measure(
  name: string,
  operation: () => unknown,
  options: { iterations?: number; rounds?: number; warmup?: number; concurrency?: number } = {},
): Promise<Measurement> {
  const iterations = options.iterations ?? 2_000;
  const rounds = options.rounds ?? 7;
  const concurrency = options.concurrency ?? 1;
  const runBatch = async (count: number) => {
    if (concurrency === 1) {
      for (let i = 0; i < count; i++) await operation();
      return;
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < count) await operation();
      }),
    );
  };
  await runBatch(options.warmup ?? Math.min(iterations, 500));
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    await runBatch(iterations);
    samples.push(Number(process.hrtime.bigint() - started) / iterations);
  }
  samples.sort((a, b) => a - b);
  const nsPerOp = samples[Math.floor(samples.length / 2)]!;
  return { name, nsPerOp, opsPerSecond: 1e9 / nsPerOp };
}

export function formatNs(ns: number): string {
  return ns >= 1e6
    ? `${(ns / 1e6).toFixed(2)} ms`
    : ns >= 1e3
      ? `${(ns / 1e3).toFixed(2)} µs`
      : `${ns.toFixed(0)} ns`;
}

export function printTable(title: string, rows: Measurement[], baseline?: Measurement): void {
  console.log(`\n## ${title}`);
  for (const row of rows) {
    const ratio =
      baseline && row !== baseline
        ? `  ${(row.nsPerOp / baseline.nsPerOp).toFixed(2)}× ${baseline.name}`
        : '';
    console.log(
      `${row.name.padEnd(56)} ${formatNs(row.nsPerOp).padStart(10)}/op  ${Math.round(row.opsPerSecond).toString().padStart(9)} ops/s${ratio}`,
    );
  }
}

/** What `measureInterleaved` found: the median time of a run, and the paired comparisons. */
export interface InterleavedResult<K extends string> {
  /** Median over rounds of each contender's mean time per run, in ns. */
  nsPerRun: Record<K, number>;
  /** Median over rounds of `value`'s time divided by `baseline`'s in the same round. */
  ratio(value: K, baseline: K): number;
  /** Median over rounds of `value`'s mean time per run minus `baseline`'s in the same round, in ns. */
  difference(value: K, baseline: K): number;
}

/**
 * For operations of about a millisecond and more (a whole agent loop run) on a shared, loaded machine:
 * the contenders take turns run by run, in an order that rotates from one run to the next, so that a
 * burst of load or a garbage collection falls on all of them alike; each round adds up every
 * contender's own runs, and the median round counts (after `warmupRuns` untimed runs of each).
 * Comparisons are paired by round (the ratio or difference within each round, then their median),
 * which cancels the slow drift of the machine's load between rounds.
 * `settle`, when given, is awaited after every run of every contender and timed as part of the run.
 */
export async function measureInterleaved<K extends string>(
  contenders: Record<K, () => Promise<unknown>>,
  options: { rounds: number; runsPerRound: number; warmupRuns?: number; settle?: () => Promise<unknown> },
): Promise<InterleavedResult<K>> {
  const names = Object.keys(contenders) as K[];
  const runOnce = async (name: K) => {
    await contenders[name]();
    await options.settle?.();
  };
  for (let index = 0; index < (options.warmupRuns ?? options.runsPerRound); index++) {
    for (const name of names) await runOnce(name);
  }
  const rounds: Array<Record<K, number>> = [];
  for (let round = 0; round < options.rounds; round++) {
    const total = new Map<K, bigint>(names.map((name) => [name, 0n]));
    for (let index = 0; index < options.runsPerRound; index++) {
      const offset = (round * options.runsPerRound + index) % names.length;
      for (const name of [...names.slice(offset), ...names.slice(0, offset)]) {
        const started = process.hrtime.bigint();
        await runOnce(name);
        total.set(name, total.get(name)! + (process.hrtime.bigint() - started));
      }
    }
    rounds.push(
      Object.fromEntries(
        names.map((name) => [name, Number(total.get(name)!) / options.runsPerRound]),
      ) as Record<K, number>,
    );
  }
  const medianOf = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return {
    nsPerRun: Object.fromEntries(
      names.map((name) => [name, medianOf(rounds.map((round) => round[name]))]),
    ) as Record<K, number>,
    ratio: (value, baseline) => medianOf(rounds.map((round) => round[value] / round[baseline])),
    difference: (value, baseline) => medianOf(rounds.map((round) => round[value] - round[baseline])),
  };
}
