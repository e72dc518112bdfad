export type { MastraProviderOptions, MastraTool, MastraToolSet } from './mastra-provider.js';
export { MastraProvider } from './mastra-provider.js';
export { answerUnparsedToolArguments } from './tool-arguments.js';
