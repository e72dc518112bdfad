import { TOOLMUX_ERROR_CODES, ToolMuxError, type ToolMuxErrorCode } from '@toolmux/core';

/**
 * HTTP-level conditions that have no code in core's `TOOLMUX_ERROR_CODES` (yet): they only happen
 * at the HTTP boundary. Same shape, same rule: one code, one status.
 */
export const HTTP_ERROR_CODES = {
  /** The request body is larger than the server's body limit. */
  REQUEST_TOO_LARGE: 413,
  /** No route matches the path. */
  ROUTE_NOT_FOUND: 404,
  /** The route exists but not with this method. */
  METHOD_NOT_ALLOWED: 405,
  /** The request body is not JSON (`Content-Type` or syntax). */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** An unexpected failure inside the server; details are in the server's log only. */
  INTERNAL_ERROR: 500,
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES;
export type ServerErrorCode = ToolMuxErrorCode | HttpErrorCode;

/** What every error response of the REST API carries. */
export interface ErrorBody {
  error: { code: ServerErrorCode; message: string; details?: Record<string, unknown> };
}

/** An error raised at the HTTP boundary, answered as `{ error: { code, message } }`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly code: HttpErrorCode;

  constructor(code: HttpErrorCode, message: string) {
    super(message);
    this.code = code;
  }

  get status(): number {
    return HTTP_ERROR_CODES[this.code];
  }
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
  if (error instanceof HttpError) {
    return { status: error.status, body: { error: { code: error.code, message: error.message } } };
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
