import { packageTestConfig } from '../../vitest.shared.js';

// Two files at a time also on CI's 2 cores: much of core's test time is waiting (PostgreSQL, child
// processes, OAuth servers, timers), and core ran alone, one file at a time, for the last third of
// CI after the other packages had finished.
export default packageTestConfig('core', {
  minWorkers: 2,
  // set process.env or a global, spy on one, or start a module-level pool of worker threads; or
  // measure the event loop's turns, which a timer an earlier file left running would lengthen
  isolated: [
    'src/execution/argument-validation-turns.test.ts',
    'src/execution/mcp-output-turns.test.ts',
    'src/schema/compounding-recursion.test.ts',
    'src/schema/json-equality.test.ts',
    'src/store/log-page-turns.test.ts',
    'src/store/workbench-file-turns.test.ts',
    'src/store/sqlite-write-lock.test.ts',
    'src/test/longest-turn.test.ts',
    'src/unknown-names.test.ts',
    'src/workbench/**/*.test.ts',
    'src/worker-permission.test.ts',
    'src/schema/validation-thread.test.ts',
    'src/schema/pattern-worker.test.ts',
    'src/schema/validate.test.ts',
    'src/util/json-slices.test.ts',
    'src/util/slices.test.ts',
    'src/meta-tools/meta-tools.test.ts',
    'src/auth/refresh-lease-clock.test.ts',
    'src/store/postgres-process-exit.test.ts',
    'src/store/store.test.ts',
    'src/toolmux.options.test.ts',
    'src/toolmux.dropped.test.ts',
  ],
});
