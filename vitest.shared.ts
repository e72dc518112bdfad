import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * The vitest config every package uses: the default reporter for people, plus a JSON report per
 * package under `.test-results/` that `.ci/run` sums into one totals line. The type tests
 * (`*.test-d.ts`) are not vitest's: each package's `tsc` (`pnpm typecheck`, which `pnpm test` runs
 * first) checks them with the rest of its sources, so no second compile of a package runs beside its
 * tests.
 */
export function packageTestConfig(
  name: string,
  overrides: {
    testTimeout?: number;
    /**
     * Test files run at least this many at a time, also where vitest's default (one fewer than the
     * cores) would run one: core's and server's files wait much of their time (on PostgreSQL, child
     * processes, servers, timers), so on CI's 2 cores a second file uses what one leaves idle.
     */
    minWorkers?: number;
    /** How many tests of one `describe.concurrent` block run at once (vitest's default: 5). */
    maxConcurrency?: number;
  } = {},
) {
  return defineConfig({
    test: {
      maxWorkers: Math.max(overrides.minWorkers ?? 1, availableParallelism() - 1),
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      ...(overrides.maxConcurrency === undefined ? {} : { maxConcurrency: overrides.maxConcurrency }),
      testTimeout: overrides.testTimeout ?? 20_000,
      hookTimeout: 60_000,
      reporters: ['default', ['json', { outputFile: `../../.test-results/${name}.json` }]],
    },
  });
}
