import { packageTestConfig } from '../../vitest.shared.js';

export default packageTestConfig('claude-agent-sdk');
