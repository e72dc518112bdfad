export type { AnthropicProviderOptions, AnthropicToolResultMessage } from './anthropic-provider.js';
export { AnthropicProvider } from './anthropic-provider.js';
