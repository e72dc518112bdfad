import { packageTestConfig } from '../../vitest.shared.js';

// Each test starts the Claude Code binary (a large Node.js program) at least once: 1-3 s on a quiet
// machine, 16-20 s seen in CI at load 15, where the default 20 s timed tests out.
export default packageTestConfig('claude-agent-sdk', { testTimeout: 60_000 });
