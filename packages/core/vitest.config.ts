import { packageTestConfig } from '../../vitest.shared.js';

// Two files at a time also on CI's 2 cores: much of core's test time is waiting (PostgreSQL, child
// processes, OAuth servers, timers), and core ran alone, one file at a time, for the last third of
// CI after the other packages had finished.
export default packageTestConfig('core', {
  minWorkers: 2,
  ownProcess: [
    // the workbench's worker pool and thread mode are process-wide, and some files set them
    // (TOOLMUX_WORKBENCH_*) before they load
    'src/workbench/**/*.test.ts',
    // process handlers, environment variables and exits
    'src/toolmux.dropped.test.ts',
    'src/toolmux.options.test.ts',
    'src/store/postgres-process-exit.test.ts',
    // the longest event-loop turn of a call, measured in a heap that holds only this file's work
    'src/test/longest-turn.test.ts',
    'src/execution/argument-validation-turns.test.ts',
    'src/execution/json-data-arguments.test.ts',
    'src/execution/mcp-output-turns.test.ts',
    'src/schema/compounding-recursion.test.ts',
    'src/schema/json-equality.test.ts',
    'src/schema/validation-thread.test.ts',
    'src/schema/validate.test.ts',
    'src/store/log-page-turns.test.ts',
    'src/store/workbench-file-turns.test.ts',
    'src/unknown-names.test.ts',
  ],
});
