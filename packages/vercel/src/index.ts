export type { VercelProviderOptions, VercelToolSet } from './vercel-provider.js';
export { VercelProvider } from './vercel-provider.js';
