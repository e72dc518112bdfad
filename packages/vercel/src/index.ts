export { VercelProvider } from './vercel-provider.js';
export type { VercelProviderOptions } from './vercel-provider.js';
