import { TOOLMUX_ERROR_CODES, ToolMuxError, type ToolMuxErrorCode } from '@toolmux/core';

/** What every error response of the REST API carries. */
export interface ErrorBody {
  error: { code: ToolMuxErrorCode; message: string; details?: Record<string, unknown> };
}

/** A 400 `INVALID_REQUEST` naming what was wrong with the request. */
export function invalidRequest(message: string): ToolMuxError {
  return new ToolMuxError({ code: 'INVALID_REQUEST', message });
}

/**
 * The status and body for anything a handler threw. ToolMuxError messages are written to be shown
 * (they never hold secrets); anything else is a 500 with a generic message, and `onUnexpected` gets
 * the real error for the server's log.
 */
export function errorResponse(
  error: unknown,
  onUnexpected: (error: unknown) => void,
): { status: number; body: ErrorBody } {
  if (ToolMuxError.isInstance(error)) {
    const status = TOOLMUX_ERROR_CODES[error.code] ?? 500;
    return { status, body: { error: error.toJSON() } };
  }
  onUnexpected(error);
  return {
    status: 500,
    body: {
      error: {
        code: 'INTERNAL_ERROR',
        message: 'The server failed to handle the request. It logged the cause; try again or report it.',
      },
    },
  };
}
