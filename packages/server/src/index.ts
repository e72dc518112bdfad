export type { ErrorBody } from './http-errors.js';
export type { CreateServerOptions, RunningServer, ServeOptions, ToolMuxServer } from './server.js';
export { createServer } from './server.js';
