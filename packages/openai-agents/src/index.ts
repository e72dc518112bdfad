export { OpenAIAgentsProvider } from './openai-agents-provider.js';
export type { OpenAIAgentsProviderOptions } from './openai-agents-provider.js';
