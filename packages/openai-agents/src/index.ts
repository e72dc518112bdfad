export type { OpenAIAgentsProviderOptions } from './openai-agents-provider.js';
export { OpenAIAgentsProvider } from './openai-agents-provider.js';
export { answerUnparsedToolArguments } from './tool-arguments.js';
