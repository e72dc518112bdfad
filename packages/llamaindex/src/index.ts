export type {
  LlamaIndexProviderOptions,
  LlamaIndexTool,
  LlamaIndexToolContext,
} from './llamaindex-provider.js';
export { LlamaIndexProvider } from './llamaindex-provider.js';
