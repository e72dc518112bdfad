export type {
  LlamaIndexProviderOptions,
  LlamaIndexTool,
  LlamaIndexToolContext,
} from './llamaindex-provider.js';
export { LlamaIndexProvider } from './llamaindex-provider.js';
export { answerUnknownToolCalls } from './unknown-tool-calls.js';
