import { packageTestConfig } from '../../vitest.shared.js';

// serve-refusals.test.ts starts the CLI in two cases at once (each start is ~0.5 s of CPU and a wait)
export default packageTestConfig('server', {
  minWorkers: 2,
  maxConcurrency: 2,
  // set process.env or a global, or spy on one; or measure the event loop's turns, which a timer an
  // earlier file left running would lengthen
  isolated: [
    'src/event-loop.test.ts',
    'src/rest/log-turns.test.ts',
    'src/cli/help.test.ts',
    'src/composio/composio-client.test.ts',
    'src/composio/composio-oauth.test.ts',
    'src/composio/composio-retries.test.ts',
    'src/connection-wait.test.ts',
    'src/mcp/mcp-endpoint.test.ts',
    'src/remote/remote-answer-faults.test.ts',
    'src/rest/rest.test.ts',
    'src/rest/session-log-reads.test.ts',
  ],
});
