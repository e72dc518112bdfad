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
