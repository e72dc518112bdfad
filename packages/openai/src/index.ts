export type {
  OpenAIApi,
  OpenAIProviderOptions,
  OpenAIResponse,
  OpenAIToolOutputs,
  OpenAITools,
} from './openai-provider.js';
export { OpenAIProvider } from './openai-provider.js';
