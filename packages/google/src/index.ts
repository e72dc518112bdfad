export type { GoogleProviderOptions, GoogleTools } from './google-provider.js';
export { GoogleProvider } from './google-provider.js';
