import { packageTestConfig } from '../../vitest.shared.js';

// serve-refusals.test.ts starts the CLI in two cases at once (each start is ~0.5 s of CPU and a wait)
export default packageTestConfig('server', {
  minWorkers: 2,
  maxConcurrency: 2,
  // the longest event-loop turn of a request, measured in a heap that holds only this file's work
  ownProcess: ['src/event-loop.test.ts', 'src/rest/log-turns.test.ts'],
});
