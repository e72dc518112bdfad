export type {
  LangChainProviderOptions,
  LangChainToolMetadata,
  UnparsedToolArgumentsMiddleware,
} from './langchain-provider.js';
export { answerUnparsedToolArguments, LangChainProvider } from './langchain-provider.js';
