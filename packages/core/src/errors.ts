/**
 * Every error toolmux raises is a `ToolMuxError` with a stable `code`. The codes live in one map
 * with the HTTP status the server answers with, so the SDK, the REST API and the MCP endpoint agree.
 */
export const TOOLMUX_ERROR_CODES = {
  /** The session config is malformed (wrong type, bad shape). */
  CONFIG_INVALID: 400,
  /** A config uses `enable` and `disable` (or a list and a filter) together. */
  CONFIG_CONFLICT: 400,
  /** A toolkit slug is not in the catalog. */
  TOOLKIT_NOT_FOUND: 404,
  /** A tool slug is not in the catalog. */
  TOOL_NOT_FOUND: 404,
  /** A tool exists but the session does not expose it (toolkit, tool or tag filters). */
  TOOL_NOT_IN_SESSION: 403,
  /** A tool or toolkit definition is malformed. */
  TOOL_DEFINITION_INVALID: 400,
  /** Tool arguments do not match the tool's input schema. */
  TOOL_ARGUMENTS_INVALID: 400,
  /** A tool handler threw. */
  TOOL_EXECUTION_FAILED: 500,
  /** A tool handler did not finish within its timeout. */
  TOOL_TIMEOUT: 504,
  /** The caller aborted the tool call. */
  TOOL_ABORTED: 499,
  /** A session was updated by someone else since it was read (optimistic concurrency). */
  SESSION_VERSION_CONFLICT: 409,
  /** A session id is unknown. */
  SESSION_NOT_FOUND: 404,
  /** A session was created with custom tools that `use()` was not given again. */
  SESSION_CUSTOM_TOOLS_MISSING: 400,
  /** The store URL or options are invalid. */
  STORE_CONFIG_INVALID: 400,
  /** The database failed. */
  STORE_ERROR: 500,
  /** The secret key is malformed. */
  SECRET_KEY_INVALID: 400,
  /** A toolkit needs a connected account and none is usable. */
  CONNECTION_REQUIRED: 412,
  /** A request argument is invalid (limits, cursors, ids). */
  INVALID_REQUEST: 400,
  /** Missing or wrong credentials for the API or a session. */
  UNAUTHORIZED: 401,
  /** The feature is not available in this mode. */
  NOT_SUPPORTED: 501,
} as const;

export type ToolMuxErrorCode = keyof typeof TOOLMUX_ERROR_CODES;

const marker = Symbol.for('toolmux.error');

export interface ToolMuxErrorOptions {
  code: ToolMuxErrorCode;
  message: string;
  cause?: unknown;
  /** Structured details safe to show to callers (never secrets). */
  details?: Record<string, unknown>;
}

export class ToolMuxError extends Error {
  readonly [marker] = true;
  override readonly name = 'ToolMuxError';
  readonly code: ToolMuxErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor({ code, message, cause, details }: ToolMuxErrorOptions) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.details = details;
  }

  /** HTTP status for this error's code. */
  get status(): number {
    return TOOLMUX_ERROR_CODES[this.code];
  }

  /** True for any ToolMuxError, also one thrown by another copy of this package. */
  static isInstance(error: unknown): error is ToolMuxError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }

  toJSON(): { code: ToolMuxErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

/** A readable message from anything thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}
