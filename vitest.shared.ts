import { enableCompileCache } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// V8's compiled code of natively loaded modules (dependencies, the workspace's built packages) is
// kept on disk and reused by every test file's worker and the CLI processes tests start (they
// inherit the variable), instead of compiling the same modules again in each. NODE_DISABLE_COMPILE_CACHE=1
// turns it off.
process.env.NODE_COMPILE_CACHE ??= join(tmpdir(), 'toolmux-test-compile-cache');
enableCompileCache(process.env.NODE_COMPILE_CACHE);

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
     * Globs of the test files that get a process of their own (vitest's `isolate`); the others run
     * one after another in a worker that keeps its loaded modules. See `isolation` below.
     */
    ownProcess?: string[];
  } = {},
) {
  const include = ['src/**/*.test.ts', 'test/**/*.test.ts'];
  // Isolation: a test file runs in a process of its own only where it needs one (it sets
  // environment variables or process-wide state at load time, replaces process handlers, or tests
  // what a first load does). Every other file reuses a worker with the modules the files before it
  // loaded: a new process per file cost ~1.6 s of CPU to start and load the same modules again
  // (toolkits' 22 files: 62 s of CPU against 26 s), a third of the test run on CI's 2 cores.
  // TOOLMUX_TEST_ISOLATE=1 runs every file in its own process again (to tell a leak between files
  // from a real failure).
  const isolateAll = process.env.TOOLMUX_TEST_ISOLATE === '1';
  const ownProcess = overrides.ownProcess ?? [];
  const isolation = isolateAll
    ? { isolate: true }
    : ownProcess.length === 0
      ? { isolate: false }
      : {
          // (a project's arrays add to the root config's, so `include` is given per project only)
          projects: [
            { extends: true, test: { name, include, isolate: false, exclude: ownProcess } },
            { extends: true, test: { name: `${name} (own process)`, include: ownProcess, isolate: true } },
          ],
        };
  return defineConfig({
    test: {
      ...isolation,
      maxWorkers: Math.max(overrides.minWorkers ?? 1, availableParallelism() - 1),
      ...('projects' in isolation ? {} : { include }),
      ...(overrides.maxConcurrency === undefined ? {} : { maxConcurrency: overrides.maxConcurrency }),
      testTimeout: overrides.testTimeout ?? 20_000,
      hookTimeout: 60_000,
      // The workspace's built packages a test imports (`@toolmux/core` in the server's and the
      // providers' tests) load as Node.js loads them for users, not transformed and run by vitest's
      // module runner (which it does for every path outside node_modules). With the compile cache
      // above, the server's suite took 4% less CPU (434 s against 451 s, all files passing).
      // (Files in worker threads instead of processes, `pool: 'threads'`, took another 11% off, but
      // in a whole run five timing and turn tests failed: the threads share one process's allocator
      // and garbage-collection helpers.)
      server: { deps: { external: [/\/packages\/[^/]+\/dist\//] } },
      reporters: ['default', ['json', { outputFile: `../../.test-results/${name}.json` }]],
    },
  });
}
