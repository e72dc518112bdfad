import { packageTestConfig } from '../../vitest.shared.js';

// serve-refusals.test.ts starts the CLI in two cases at once (each start is ~0.5 s of CPU and a wait)
export default packageTestConfig('server', { minWorkers: 2, maxConcurrency: 2 });
