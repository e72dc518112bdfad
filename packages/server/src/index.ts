export type { ErrorBody, HttpErrorCode, ServerErrorCode } from './http-errors.js';
export { HTTP_ERROR_CODES } from './http-errors.js';
export type { CreateServerOptions, RunningServer, ServeOptions, ToolMuxServer } from './server.js';
export { createServer } from './server.js';
