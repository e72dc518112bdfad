export type { VercelProviderOptions } from './vercel-provider.js';
export { VercelProvider } from './vercel-provider.js';
