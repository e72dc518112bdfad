export type { ErrorBody } from './http-errors.js';
export type { McpOptions } from './mcp/mcp-endpoint.js';
export type { CreateServerOptions, RunningServer, ServeOptions, ToolMuxServer } from './server.js';
export { createServer } from './server.js';
