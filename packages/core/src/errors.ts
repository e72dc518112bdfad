import { type ErrorAudience, hasApiRefs, type InputNames, renderApiRefs } from './api-refs.js';
import { JsonWriter } from './util/json-slices.js';
import { maskSecretsLeading } from './util/redact.js';

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
  /**
   * A tool handler returned a value JSON cannot represent (a BigInt, a cycle, a Map, a Promise, …,
   * nesting more than 128 levels, a toJSON or getter that throws).
   */
  TOOL_RESULT_INVALID: 500,
  /** A tool handler did not finish within its timeout. */
  TOOL_TIMEOUT: 504,
  /** The caller aborted the tool call (or `mux.close()` stopped it after its `timeoutMs`). */
  TOOL_ABORTED: 499,
  /** A tool call was asked of a session whose ToolMux was closed (`mux.close()`); it did not run. */
  TOOLMUX_CLOSED: 503,
  /** Workbench code ran past `workbench.timeoutMs` (its context is reset). */
  WORKBENCH_TIMEOUT: 504,
  /** Workbench code used more than `workbench.memoryMb` (its context is reset). */
  WORKBENCH_MEMORY_LIMIT: 413,
  /** A workbench cell returned or logged more than the output cap. */
  WORKBENCH_OUTPUT_LIMIT: 413,
  /** A workbench cell made more `toolmux.*` calls than allowed per cell. */
  WORKBENCH_TOOL_CALL_LIMIT: 429,
  /** The worker thread running workbench code died or hung and was replaced (its contexts are reset). */
  WORKBENCH_WORKER_RESTARTED: 503,
  /** The session's workbench context was dropped while its code ran (the session was deleted, or its ToolMux closed). */
  WORKBENCH_CONTEXT_DROPPED: 409,
  /** Workbench code threw, or did not compile. */
  WORKBENCH_CODE_ERROR: 400,
  /** `toolmux.files.read` of a path with no file. */
  WORKBENCH_FILE_NOT_FOUND: 404,
  /** A workbench file path is empty, too long, or has a NUL character or a lone UTF-16 surrogate. */
  WORKBENCH_FILE_PATH_INVALID: 400,
  /** A write would take the session's workbench files over their quota. */
  WORKBENCH_FILES_QUOTA: 413,
  /** The store keeps no workbench files (a store of your own without them). */
  WORKBENCH_FILES_UNAVAILABLE: 501,
  /** Workbench code on a server called a custom tool whose code runs in the remote-mode client. */
  WORKBENCH_CLIENT_TOOL: 400,
  /** A session was updated by someone else since it was read (optimistic concurrency), or the version given is newer than the stored one. */
  SESSION_VERSION_CONFLICT: 409,
  /** A session id is unknown. */
  SESSION_NOT_FOUND: 404,
  /** A session was created with custom tools that `use()` was not given again. */
  SESSION_CUSTOM_TOOLS_MISSING: 400,
  /** The store URL or options are invalid. */
  STORE_CONFIG_INVALID: 400,
  /** The database failed. */
  STORE_ERROR: 500,
  /**
   * The database holds migrations this toolmux does not know: a newer toolmux migrated it. It is not
   * opened (nor migrated back); upgrade toolmux.
   */
  STORE_SCHEMA_TOO_NEW: 500,
  /**
   * A command that only reads the store (`toolmux sessions list`) found no toolmux tables, or a schema
   * older than this toolmux reads; it does not migrate it.
   */
  STORE_NOT_MIGRATED: 500,
  /** The secret key is malformed. */
  SECRET_KEY_INVALID: 400,
  /**
   * A key file beside an SQLite database (`secret.key`, the CLI's `api.key`) cannot be read or
   * created: a directory in its place, a directory this process may not write.
   */
  KEY_FILE_UNAVAILABLE: 500,
  /** A toolkit needs a connected account and none is usable. */
  CONNECTION_REQUIRED: 412,
  /** A request argument is invalid (limits, cursors, ids). */
  INVALID_REQUEST: 400,
  /**
   * A user id cannot be stored as given: empty, longer than 256 characters, ill-formed Unicode (a
   * lone surrogate) or holding control characters.
   */
  USER_ID_INVALID: 400,
  /** Missing or wrong credentials for the API or a session. */
  UNAUTHORIZED: 401,
  /** The feature is not available in this mode. */
  NOT_SUPPORTED: 501,
  /** Credentials were encrypted with a key that is neither the secret key nor a previous one. */
  SECRET_KEY_MISSING: 500,
  /** A credential record failed to decrypt: wrong key, or the row was altered or moved. */
  SECRET_DECRYPTION_FAILED: 500,
  /** An auth config id is unknown. */
  AUTH_CONFIG_NOT_FOUND: 404,
  /** An auth config cannot be created as asked (no such scheme on the toolkit, missing client id, …). */
  AUTH_CONFIG_INVALID: 400,
  /** A session names an auth config of another toolkit. */
  AUTH_CONFIG_MISMATCH: 400,
  /** A connected account id is unknown. */
  CONNECTED_ACCOUNT_NOT_FOUND: 404,
  /** A connected account belongs to another user or another toolkit than where it is used. */
  CONNECTED_ACCOUNT_MISMATCH: 403,
  /** Credentials given for a connected account do not match the auth scheme's fields. */
  CONNECTED_ACCOUNT_INVALID: 400,
  /** Another account of the same user and toolkit already has this alias. */
  ALIAS_TAKEN: 409,
  /**
   * The session has `multiAccount.requireExplicitSelection` and more than one ACTIVE account of the
   * toolkit: the call must name one (`account`); the message names the aliases to choose from.
   */
  ACCOUNT_SELECTION_REQUIRED: 409,
  /**
   * The `account` of a call is not one the session may use: another user's, another toolkit's,
   * outside the session's `connectedAccounts` or auth config, or no account has that id or alias.
   */
  ACCOUNT_NOT_IN_SESSION: 403,
  /** A session with `multiAccount` already has `maxAccountsPerToolkit` accounts of the toolkit. */
  ACCOUNT_LIMIT_REACHED: 409,
  /** A connection request id is unknown (or it was deleted with its auth config or account). */
  CONNECTION_REQUEST_NOT_FOUND: 404,
  /**
   * A connection request cannot be used this way: an OAuth callback's state is unknown, altered or
   * already used, or a request was already completed, or is of the other kind.
   */
  CONNECTION_REQUEST_INVALID: 400,
  /** A connection request (OAuth or credentials) is older than its 10 minutes. */
  CONNECTION_REQUEST_EXPIRED: 400,
  /**
   * An OAuth connection that went through the hosted connect page came back to the callback (or its
   * "Continue" was sent) from a browser that did not open that page: a copied link. The request is
   * not used up.
   */
  CONNECTION_BROWSER_MISMATCH: 403,
  /** A connection ended FAILED (the provider refused or the user denied access). */
  CONNECTION_FAILED: 400,
  /** `waitForConnection` did not see the account become ACTIVE in time. */
  CONNECTION_TIMEOUT: 408,
  /** A connected account's access expired or was revoked: the user must connect it again. */
  CONNECTION_EXPIRED: 412,
  /**
   * Thrown by a tool handler when the provider refused the connected account's credentials (HTTP
   * 401). toolmux then refreshes an OAuth token and runs the handler once more; when that is not
   * possible or is refused again, the account becomes EXPIRED and the call CONNECTION_EXPIRED.
   */
  CREDENTIALS_REJECTED: 401,
  /** A callback URL is not on the allowlist (`allowedCallbackUrls`). */
  CALLBACK_URL_NOT_ALLOWED: 400,
  /** The OAuth provider answered with an error or could not be reached. */
  OAUTH_ERROR: 502,
  /** `proxyExecute`: the toolkit's API could not be reached. */
  PROXY_FAILED: 502,
  /**
   * `proxyExecute`: the toolkit's API answered more than the call reads (its `maxResponseBytes`, at
   * most the ToolMux's `proxyMaxResponseBytes`). A 4xx: the same call fails the same way again (no
   * retry helps, and the server is not at fault); asking for less, or a larger limit, does.
   */
  PROXY_RESPONSE_TOO_LARGE: 422,
  /** An HTTP request body is larger than the server's body limit. */
  REQUEST_TOO_LARGE: 413,
  /** An HTTP request body is not JSON (`Content-Type` or syntax). */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** No HTTP route matches the path. */
  ROUTE_NOT_FOUND: 404,
  /** The HTTP route exists but not with this method. */
  METHOD_NOT_ALLOWED: 405,
  /** An unexpected failure inside the server; the cause is in the server's log only. */
  INTERNAL_ERROR: 500,
  /**
   * The server refused a connection: its client (an IPv4 address, an IPv6 /64) holds the most open
   * connections one client may (`connections.perClient`).
   */
  TOO_MANY_CONNECTIONS: 503,
  /**
   * The server's shutdown drain ran out before this request arrived (on a connection still open):
   * it was not handled. Send it again on a new connection.
   */
  SERVER_SHUTTING_DOWN: 503,
  /** Remote mode: the toolmux server could not be reached or did not answer as a toolmux server. */
  SERVER_UNREACHABLE: 503,
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
  /** The message with its {@link apiRef} references still in it, when it has any. */
  readonly #template: string | undefined;
  /** The details with {@link apiRef} references in their text values (a `field`), when they have any. */
  readonly #detailsTemplate: Record<string, unknown> | undefined;

  constructor({ code, message, cause, details }: ToolMuxErrorOptions) {
    super(renderApiRefs(message, 'sdk'), cause === undefined ? undefined : { cause });
    this.code = code;
    const referring =
      details !== undefined &&
      Object.values(details).some((value) => typeof value === 'string' && hasApiRefs(value));
    this.details = referring ? renderedDetails(details, 'sdk') : details;
    if (referring) this.#detailsTemplate = details;
    if (hasApiRefs(message)) this.#template = message;
  }

  /**
   * The message in the words of its reader: `message` names SDK operations (`toolkits.list()`),
   * `messageFor('rest')` the REST routes (`GET /api/v1/toolkits`) for an HTTP client of the server,
   * `messageFor('cli')` the `toolmux` command that does it where there is one (`toolmux toolkits list`).
   * `inputs`: how the reader names the inputs the message names (`inputRef`), else as toolmux read them.
   */
  messageFor(audience: ErrorAudience, inputs?: InputNames): string {
    return this.#template === undefined ? this.message : renderApiRefs(this.#template, audience, inputs);
  }

  /**
   * The details in the words of their reader: a `field` given with {@link apiRef} is the SDK's name
   * in `details` (`clientSecret`), the REST API's in `detailsFor('rest')` (`client_secret`).
   */
  detailsFor(audience: ErrorAudience): Record<string, unknown> | undefined {
    return this.#detailsTemplate === undefined
      ? this.details
      : renderedDetails(this.#detailsTemplate, audience);
  }

  /** HTTP status for this error's code. */
  get status(): number {
    return TOOLMUX_ERROR_CODES[this.code];
  }

  /** True for any ToolMuxError, also one thrown by another copy of this package. */
  static isInstance(error: unknown): error is ToolMuxError {
    if (typeof error !== 'object' || error === null) return false;
    try {
      return (error as Record<symbol, unknown>)[marker] === true;
    } catch {
      // a proxy whose trap threw as the marker was read: not ours
      return false;
    }
  }

  toJSON(): { code: ToolMuxErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

/** `details` with the {@link apiRef} references of its text values in the words of `audience`. */
function renderedDetails(details: Record<string, unknown>, audience: ErrorAudience): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(details).map(([key, value]) => [
      key,
      typeof value === 'string' ? renderApiRefs(value, audience) : value,
    ]),
  );
}

/** Whether `code` is one of {@link TOOLMUX_ERROR_CODES} (a ToolMuxError of another copy, a server's answer). */
export function isToolMuxErrorCode(code: unknown): code is ToolMuxErrorCode {
  return typeof code === 'string' && Object.hasOwn(TOOLMUX_ERROR_CODES, code);
}

/**
 * A readable message from anything thrown; never throws itself. Code can throw anything: an Error
 * whose `message` or `name` getter throws, a proxy whose traps throw, a cycle with no prototype
 * (neither JSON nor `String()` can write it), a symbol, a function. What cannot be read says so, with
 * what reading it threw.
 */
export function errorMessage(error: unknown): string {
  return boundedErrorMessage(error, Number.POSITIVE_INFINITY).text;
}

/**
 * The most characters of something from outside that a message of toolmux's own quotes: what a tool
 * handler, an application, a server, a provider or a database threw, or a value they gave. A longer
 * one keeps its start and says how long it was, so a 50 MB message costs what 16 KB does wherever the
 * message goes (a tool's failed result the model reads, the execution log, REST and MCP answers).
 */
export const MAX_QUOTED_CHARS = 16_384;

/**
 * The one way a message of toolmux's own quotes a thrown value from outside: {@link errorMessage}
 * with the known `secrets` masked, cut to `maxChars` characters (marked with the length it had). A
 * thrown object is written as JSON only as far as the cut and the masking look.
 */
export function quotedMessage(
  thrown: unknown,
  secrets: readonly string[] = [],
  maxChars: number = MAX_QUOTED_CHARS,
): string {
  // the masking looks a secret's length past the cut: a secret the cut splits is masked whole
  const longest = secrets.reduce((max, secret) => Math.max(max, secret.length), 0);
  const written = boundedErrorMessage(thrown, maxChars + longest);
  return quoted(written.text, secrets, maxChars, written.whole);
}

/** {@link quotedMessage} of text from outside (a message read already, a response's body). */
export function quotedText(
  text: string,
  secrets: readonly string[] = [],
  maxChars: number = MAX_QUOTED_CHARS,
): string {
  return quoted(text, secrets, maxChars, true);
}

function quoted(text: string, secrets: readonly string[], maxChars: number, whole: boolean): string {
  const masked = maskSecretsLeading(text, secrets, maxChars);
  if (whole && !masked.cut) return masked.text;
  return `${masked.text}… (cut: the message had ${whole ? text.length : `more than ${text.length}`} characters)`;
}

/**
 * {@link errorMessage}, written only as far as `maxChars` characters when it is made here (the JSON of
 * a thrown object, a stretch at a time, stopped once the text is longer): `whole` false when it was
 * stopped, then `text` is the start of the message, longer than `maxChars`. A message that is a
 * string already is answered whole (cutting it is the caller's, at no cost). So `throw { data }` with
 * 50 MB in `data`, or an object of a million keys, costs what the JSON of its start does (and for a
 * wide object the one listing of its keys), not the whole JSON.
 */
export function boundedErrorMessage(error: unknown, maxChars: number): { text: string; whole: boolean } {
  try {
    return readableMessage(error, maxChars);
  } catch (readError) {
    let why = 'something that could not be read either';
    try {
      const inner: unknown = readError instanceof Error ? readError.message : readError;
      if (typeof inner === 'string') why = inner;
    } catch {
      // a hostile value thrown by a hostile value: `why` stays
    }
    return { text: `${describeKind(error)} that threw when it was read as a message (${why})`, whole: true };
  }
}

function readableMessage(error: unknown, maxChars: number): { text: string; whole: boolean } {
  if (typeof error === 'string') return { text: error, whole: true };
  if (error instanceof Error) {
    const message: unknown = error.message;
    if (typeof message === 'string') {
      if (message !== '') return { text: message, whole: true };
    } else if (message !== undefined && message !== null) return valueText(message, maxChars);
    const name: unknown = error.name;
    return { text: typeof name === 'string' && name !== '' ? name : 'Error', whole: true };
  }
  return valueText(error, maxChars);
}

/**
 * Something other than an Error as text: JSON when JSON writes it (its start, once longer than
 * `maxChars`), else what `String()` makes of it.
 */
function valueText(value: unknown, maxChars: number): { text: string; whole: boolean } {
  switch (typeof value) {
    case 'string':
      return { text: value, whole: true };
    case 'symbol':
      return { text: value.toString(), whole: true };
    case 'function':
      return { text: value.name ? `a function (${value.name})` : 'a function', whole: true };
    case 'undefined':
      return { text: 'undefined', whole: true };
  }
  try {
    const pieces: string[] = [];
    let chars = 0;
    // every unit of the writer's work is bounded (a long string is escaped a piece at a time): the
    // check after each one stops the text a piece past `maxChars`
    const writer = new JsonWriter(value, {
      checkEvery: 1,
      sink: (piece) => {
        pieces.push(piece);
        chars += piece.length;
      },
    });
    const whole = writer.step(() => chars > maxChars);
    if (writer.written) return { text: pieces.join(''), whole };
  } catch {
    // a BigInt, a cycle, a toJSON that throws (before the text was long enough): String() below
  }
  return { text: String(value), whole: true };
}

function describeKind(value: unknown): string {
  if (typeof value !== 'object' || value === null) return `a ${typeof value}`;
  try {
    if (value instanceof Error) return 'an Error';
  } catch {
    // a proxy whose getPrototypeOf trap threw
  }
  return 'an object';
}
