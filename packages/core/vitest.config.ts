import { packageTestConfig } from '../../vitest.shared.js';

// Two files at a time also on CI's 2 cores: much of core's test time is waiting (PostgreSQL, child
// processes, OAuth servers, timers), and core ran alone, one file at a time, for the last third of
// CI after the other packages had finished.
export default packageTestConfig('core', { minWorkers: 2 });
