export type { LogFormat, LogLevel, ToolMuxConfig } from './config.js';
export { defineConfig } from './config.js';
export type { ConnectionOptions } from './connection-limit.js';
export type { ErrorBody } from './http-errors.js';
export type { McpOptions } from './mcp/mcp-endpoint.js';
export type { MetricsOptions } from './metrics.js';
export type { ServerLogger } from './request-log.js';
export type { CreateServerOptions, RunningServer, ServeOptions, ToolMuxServer } from './server.js';
export { createServer } from './server.js';
