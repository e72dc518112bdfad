export type { LangChainProviderOptions, LangChainToolMetadata } from './langchain-provider.js';
export { LangChainProvider } from './langchain-provider.js';
