import { packageTestConfig } from '../../vitest.shared.js';

// Two files at a time also on CI's 2 cores: much of core's test time is waiting (PostgreSQL, child
// processes, OAuth servers, timers), and core ran alone, one file at a time, for the last third of
// CI after the other packages had finished.
// Its type tests (`*.test-d.ts`) are checked by `pnpm typecheck` (tsc over src), which fails CI on
// any of them: a second tsc of the whole package inside the test run only added CPU to CI's 2 cores.
export default packageTestConfig('core', { minWorkers: 2 });
