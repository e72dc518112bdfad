import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

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
    /**
     * Where given, the test files outside these globs share their worker's modules with the files
     * it ran before (vitest's `isolate: false`): a file no longer loads the package and its
     * dependencies again in a fresh process, a third of core's CPU. The globs name the files that
     * need a process of their own: they change `process.env` or a global, spy on one, or configure a
     * module-level pool (worker threads) as they load.
     */
    isolated?: readonly string[];
  } = {},
) {
  const include = ['src/**/*.test.ts', 'test/**/*.test.ts'];
  const { isolated } = overrides;
  return defineConfig({
    test: {
      maxWorkers: Math.max(overrides.minWorkers ?? 1, availableParallelism() - 1),
      ...(isolated === undefined
        ? { include }
        : {
            projects: [
              { extends: true, test: { name: `${name}:isolated`, include: [...isolated], isolate: true } },
              {
                extends: true,
                test: {
                  name: `${name}:shared`,
                  include,
                  exclude: [...configDefaults.exclude, ...isolated],
                  isolate: false,
                },
              },
            ],
          }),
      ...(overrides.maxConcurrency === undefined ? {} : { maxConcurrency: overrides.maxConcurrency }),
      testTimeout: overrides.testTimeout ?? 20_000,
      hookTimeout: 60_000,
      reporters: ['default', ['json', { outputFile: `../../.test-results/${name}.json` }]],
    },
  });
}
