export type { ClaudeAgentSdkProviderOptions, ClaudeAgentTools } from './claude-agent-provider.js';
export { ClaudeAgentSdkProvider } from './claude-agent-provider.js';
