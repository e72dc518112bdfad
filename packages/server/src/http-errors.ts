import { TOOLMUX_ERROR_CODES, ToolMuxError, type ToolMuxErrorCode } from '@toolmux/core';
import type { ErrorAudience, InputNames } from '@toolmux/core/internal';

/**
 * The request header a remote-mode ToolMux (`@toolmux/core`) sends with `sdk`, so that error messages
 * name SDK methods for it; every other caller reads REST routes and fields.
 */
export const CLIENT_HEADER = 'x-toolmux-client';

/** Who reads the error messages of a request: the SDK of remote mode, or a REST client. */
export function audienceOf(request: Request): ErrorAudience {
  return request.headers.get(CLIENT_HEADER) === 'sdk' ? 'sdk' : 'rest';
}

/** What every error response of the REST API carries. */
export interface ErrorBody {
  error: { code: ToolMuxErrorCode; message: string; details?: Record<string, unknown> };
}

/** A 400 `INVALID_REQUEST` naming what was wrong with the request. */
export function invalidRequest(message: string): ToolMuxError {
  return new ToolMuxError({ code: 'INVALID_REQUEST', message });
}

/**
 * A 400 for a credential header (`Authorization`, `x-api-key`) whose value did not match and holds
 * `", "`: what a request that sends the header twice arrives as (Node.js joins the two values), whose
 * refusal said the key was wrong even when both copies held the right one. Undefined for any other
 * value. Asked only after the value failed to match, so a key that itself holds ", " still works.
 */
export function repeatedCredentialHeader(name: string, value: string): ToolMuxError | undefined {
  if (!value.includes(', ')) return undefined;
  const parts = value.split(', ').length;
  return invalidRequest(
    `The ${name} header holds ${parts} values joined by ", ", as a request that sends it ${parts} times arrives: send the header once, with one ${name === 'Authorization' ? '"Bearer <key>"' : 'key'}.`,
  );
}

/**
 * The status and body for anything a handler threw. ToolMuxError messages are written to be shown
 * (they never hold secrets), in the words of `audience` (REST routes, or SDK methods for a remote-mode
 * ToolMux), the inputs it names as the request named them (`inputs`, see `inputRef`); anything
 * else is a 500 with a generic message. `onServerError` gets the real error of
 * every 5xx for the server's log: a ToolMuxError such as `STORE_ERROR` carries the database error as
 * its cause.
 */
export function errorResponse(
  error: unknown,
  onServerError: (error: unknown) => void,
  audience: ErrorAudience = 'rest',
  inputs?: InputNames,
): { status: number; body: ErrorBody } {
  if (ToolMuxError.isInstance(error)) {
    const status = TOOLMUX_ERROR_CODES[error.code] ?? 500;
    if (status >= 500) onServerError(error);
    const json = error.toJSON();
    // a ToolMuxError of an older copy of core has no messageFor(): its message is the SDK's
    const message =
      typeof error.messageFor === 'function' ? error.messageFor(audience, inputs) : json.message;
    // details name a field in the reader's words too (details.field: client_secret over REST)
    const details = typeof error.detailsFor === 'function' ? error.detailsFor(audience) : json.details;
    return { status, body: { error: { ...json, message, ...(details !== undefined ? { details } : {}) } } };
  }
  onServerError(error);
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
