/**
 * Per-call wall-clock timing, for latency distributions (mean, p50, p99); `harness.ts` measures
 * batches instead, which gives throughput but no tail latency.
 */
import { performance } from 'node:perf_hooks';
import { formatNs } from '../harness.ts';

/** Latency statistics in milliseconds. */
export interface Latency {
  mean: number;
  p50: number;
  p99: number;
}

/** Per-query latency in milliseconds, after one untimed warm-up pass over all queries. */
export function latency(queries: readonly string[], run: (query: string) => unknown): Latency {
  for (const query of queries) run(query);
  return summarize(queries.map((query) => timed(() => run(query))));
}

function summarize(times: readonly number[]): Latency {
  const sorted = [...times].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, time) => sum + time, 0) / sorted.length;
  return { mean, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** As {@link latency}, for asynchronous work, one query at a time. */
export async function latencyAsync(
  queries: readonly string[],
  run: (query: string) => Promise<unknown>,
): Promise<Latency> {
  for (const query of queries) await run(query);
  const times: number[] = [];
  for (const query of queries) times.push(await timedAsync(() => run(query)));
  return summarize(times);
}

/** Milliseconds until the promise of `run` settles. */
async function timedAsync(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

/** Milliseconds that `run` takes. */
export function timed(run: () => unknown): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

/** The median of a few measurements. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return percentile(sorted, 0.5);
}

/** Milliseconds as `harness.ts` prints durations (`12.30 ms`, `456.00 µs`). */
export function formatMs(milliseconds: number): string {
  return formatNs(milliseconds * 1e6);
}

/** `mean …, p50 …, p99 …`. */
export function formatLatency({ mean, p50, p99 }: Latency): string {
  return `mean ${formatMs(mean)}, p50 ${formatMs(p50)}, p99 ${formatMs(p99)}`;
}
