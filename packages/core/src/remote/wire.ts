import { MAX_ALIAS_LENGTH } from '../auth/aliases.js';
import { ACCOUNT_STATUSES } from '../auth/connected-accounts.js';
import type { ToolkitConnectionStatus, WaitForConnectionsResult } from '../auth/connection-waiter.js';
import type {
  AuthConfig,
  AuthConfigType,
  ConnectedAccount,
  ConnectedAccountStatus,
  ConnectionRequestInfo,
  ConnectionRequestKind,
  ConnectionRequestStatus,
  ConnectionStatus,
  ProxyExecuteResponse,
} from '../auth/types.js';
import type { JSONSchema, ToolAnnotations } from '../catalog/types.js';
import { MAX_METADATA_VALUE_LENGTH, type NormalizedSessionConfig } from '../config/session-config.js';
import { MAX_QUOTED_CHARS, TOOLMUX_ERROR_CODES, type ToolMuxErrorCode } from '../errors.js';
import type { ToolResult } from '../execution/result.js';
import type { SearchToolsResult } from '../meta-tools/meta-tools.js';
import type { ToolSpec } from '../provider.js';
import type { ExecutionLog, SessionToolkit } from '../session.js';
import type { ExecutionLogRecord, ExecutionStatus } from '../store/types.js';
import type { SessionSummary, ToolkitInfo } from '../toolmux-types.js';
import { allowedUrlScheme } from '../util/config-url.js';
import { parsedJsonDepthExceeds } from '../util/json-depth.js';
import { MAX_CURSOR_LENGTH } from '../util/pagination.js';
import { MAX_LOG_ERROR_CODE_LENGTH, MAX_LOG_TEXT_LENGTH } from '../util/redact.js';
import { MAX_ID_LENGTH, MAX_USER_ID_LENGTH, shownValue, textProblem } from '../util/stored-text.js';
import { MAX_PATH_LENGTH, OFFLOAD_PREVIEW_CHARS } from '../workbench/file-limits.js';

/**
 * The JSON of the REST API (snake_case, ISO dates) and its SDK objects (camelCase, Dates). The server
 * writes these shapes from zod schemas (see its OpenAPI document); here they are read back.
 */

export interface Paged<T> {
  items: T[];
  next_cursor: string | null;
  total?: number;
}

export interface SessionWire {
  session_id: string;
  user_id: string;
  config_version: number;
  config: NormalizedSessionConfig;
  metadata: Record<string, string>;
  mcp: { url: string; headers: { Authorization: string } };
}

export interface SessionSummaryWire {
  session_id: string;
  user_id: string;
  metadata: Record<string, string>;
  config_version: number;
  created_at: string;
  updated_at: string;
}

export interface ToolSpecWire {
  slug: string;
  name: string;
  description: string;
  toolkit: string;
  input_schema: JSONSchema;
  strict_input_schema?: JSONSchema;
  output_schema?: JSONSchema;
  annotations: ToolAnnotations;
}

/** `POST /sessions/:id/execute`: one call of the session, run on the server. */
export interface ExecuteInSessionWire {
  tool_slug: string;
  /** Left out with `arguments_refused`. */
  arguments?: unknown;
  /**
   * Why the client refused the call's arguments, which JSON cannot carry (a NaN, a sparse array's
   * holes), sent in their place: the server refuses the call with TOOL_ARGUMENTS_INVALID and this
   * message after the checks before the arguments' (the session, the tool), as embedded.
   */
  arguments_refused?: string;
  call_id?: string;
  account?: string;
  /**
   * The log entry of the call that made this one: an entry of the session, or the id the client will
   * upload that entry under (a TOOLMUX_MULTI_EXECUTE_TOOL it runs itself, still running). Absent from
   * clients older than the field.
   */
  parent_id?: string;
}

export interface ToolResultWire {
  successful: boolean;
  data: unknown;
  error: string | null;
  code?: ToolMuxErrorCode;
  log_id: string;
  /** `true` on a workbench cell that failed (`ToolResult.cellFailed`). Absent from older servers. */
  cell_failed?: boolean;
  /** The error of a workbench cell that failed (`ToolResult.cellError`). Absent from older servers. */
  cell_error?: { code: string; message: string };
}

export interface ToolkitWire {
  slug: string;
  name: string;
  description: string;
  no_auth: boolean;
  auth_schemes: string[];
  categories: string[];
  /** Absent from servers older than toolkits' keywords in listings. */
  keywords?: string[];
  tool_count: number;
  tools: Array<{ slug: string; name: string; description: string }>;
}

export interface SessionToolkitWire {
  slug: string;
  name: string;
  description: string;
  no_auth: boolean;
  connection: {
    is_active: boolean;
    connected_account?: { id: string; status: string };
    auth_config?: { id: string; type: AuthConfigType; managed: boolean };
    accounts?: Array<{ id: string; alias: string | null; is_default: boolean }>;
    account_selection_required?: boolean;
  };
}

export interface ExecutionLogWire {
  id: string;
  session_id: string | null;
  user_id: string;
  tool_slug: string;
  toolkit: string;
  connected_account_id: string | null;
  call_id: string | null;
  status: 'success' | 'error';
  error_code: string | null;
  error_message: string | null;
  duration_ms: number;
  input: string;
  output: string;
  created_at: string;
  /** Absent from servers older than the column. */
  parent_id?: string | null;
}

export interface AuthConfigWire {
  id: string;
  toolkit: string;
  type: AuthConfigType;
  created_by: 'user' | 'toolmux';
  name: string | null;
  client_id: string | null;
  scopes: string[] | null;
  has_client_secret: boolean;
  created_at: string;
  updated_at: string;
}

export interface ConnectedAccountWire {
  id: string;
  user_id: string;
  toolkit: string;
  auth_config_id: string;
  /** Absent from servers of before multiAccount. */
  alias?: string | null;
  /** One of ACCOUNT_STATUSES, or one a newer server added (read as UNKNOWN). */
  status: string;
  status_reason: string | null;
  connected_at: string | null;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
}

/** A connection request: what authorize, link and `GET /connection-requests/:id` answer. */
export interface ConnectionRequestWire {
  id: string;
  kind: ConnectionRequestKind;
  user_id: string;
  toolkit: string;
  auth_config_id: string;
  connected_account_id: string | null;
  status: ConnectionRequestStatus;
  callback_url: string;
  redirect_url: string;
  expires_at: string;
  /** EXPIRED because newer requests of its user and auth config replaced it (absent from older servers). */
  replaced_by_newer_requests?: boolean;
  /** The account a reconnect gives new credentials to; null: a new connection (absent from older servers). */
  reconnect_of?: string | null;
}

/** What `offloaded` of `POST /sessions/:id/workbench/offload` is: what the model receives instead. */
export interface OffloadWire {
  offloaded: { path: string; size: number; preview: string; hint: string } | null;
  /** A result the server could not save (its files quota full): its start, and what to do. */
  not_offloaded?: { size: number; preview: string; reason: string; hint: string } | null;
}

/** How one toolkit stands in `POST /sessions/:id/wait-for-connections`. */
export interface ToolkitWaitStateWire {
  status: ToolkitConnectionStatus;
  connected_account_id?: string;
  account_selection_required?: boolean;
  accounts?: Array<{ id: string; alias: string | null; is_default: boolean }>;
  connection_request_id?: string;
  expires_at?: string;
  message: string;
}

export interface WaitForConnectionsWire {
  toolkits: Record<string, ToolkitWaitStateWire>;
  timed_out: boolean;
}

export type EnsureConnectedWire =
  | {
      status: 'CONNECTED';
      account: { id: string; status: 'ACTIVE'; toolkit: string } | null;
      account_selection_required?: boolean;
      accounts?: Array<{ id: string; alias: string | null; is_default: boolean }>;
    }
  | { status: 'NEEDS_USER'; request: ConnectionRequestWire };

// ---- the shapes of the answers, and the one check of them ----

/**
 * What a field of an answer holds: a JSON type, a `date` (a string that `new Date()` reads), or a
 * `count` (a whole number from 0: a total, a version, a size).
 */
type Kind = 'string' | 'boolean' | 'number' | 'object' | 'array' | 'date' | 'count';

/**
 * How one field of an answer is checked: a {@link Kind} (`'string|null'`: null too), a {@link Shape}
 * (an object whose fields are checked in turn), {@link optional}, {@link nullable}, {@link listOf},
 * {@link recordOf} of one of them, {@link oneOf} (a string of a set), {@link textUpTo} (an id, a
 * cursor), {@link stringUpTo} (a message), {@link urlOf} (a link the application follows) or
 * {@link nestedUpTo} (a tool's result or schema).
 */
type Field = Kind | `${Kind}|null` | 'any' | Shape | Rule;

/** The fields an object of an answer must have (others it may have are not read). */
interface Shape {
  readonly [key: string]: Field;
}

/**
 * What a {@link urlOf} field may be: `http`, any http(s) URL (the server's own pages may be on
 * another origin than the ToolMux's baseUrl: an application often reaches its server at an inner
 * address while its users' browsers reach the public one); `callback`, an http(s) URL or an app's
 * private-use scheme (RFC 8252: a reverse domain name, `com.example.app:/done`).
 */
type UrlKind = 'http' | 'callback';

type RuleKind = 'optional' | 'nullable' | 'list' | 'record' | 'oneOf' | 'text' | 'upTo' | 'url' | 'nested';

class Rule {
  readonly is: RuleKind;
  readonly field: Field;
  /** `oneOf`: the values the SDK knows; `url`: its {@link UrlKind}. */
  readonly values: readonly string[];
  /** `text`, `upTo`, `url`: the most characters; `nested`: the most levels of objects and arrays. */
  readonly limit: number;
  constructor(is: RuleKind, field: Field, values: readonly string[] = [], limit = 0) {
    this.is = is;
    this.field = field;
    this.values = values;
    this.limit = limit;
  }
}

/** A field that may be absent (one servers older than it do not send). */
const optional = (field: Field): Rule => new Rule('optional', field);
/** A field that may be null. */
const nullable = (field: Field): Rule => new Rule('nullable', field);
/** An array whose every item is `item`. */
const listOf = (item: Field): Rule => new Rule('list', item);
/** An object whose every value is `value`, whatever its keys. */
const recordOf = (value: Field): Rule => new Rule('record', value);
/**
 * A string the SDK branches on (a status): one of `values`. Another one (a newer server's) fails the
 * answer at once, naming the field and the value, rather than being taken for none of them (a wait
 * that polls until its timeout on a status it does not know).
 */
const oneOf = <const V extends string>(...values: V[]): Rule => new Rule('oneOf', 'string', values);
/**
 * A string the SDK hands on and may be given back (an id, a cursor): at most `maxLength` characters,
 * well-formed, no control characters; what the SDK's own checks of an id or a query take. One that is
 * not fails the answer, naming the field, rather than a later call that sends it back failing as the
 * caller's INVALID_REQUEST.
 */
const textUpTo = (maxLength: number): Rule => new Rule('text', 'string', [], maxLength);
/**
 * A string the SDK hands on as text (a message, a preview) of at most `maxLength` characters, whatever
 * they are: one far longer than a server writes fails the answer, rather than reaching a model.
 */
const stringUpTo = (maxLength: number): Rule => new Rule('upTo', 'string', [], maxLength);
/**
 * A URL the application follows or sends its user to: an absolute URL of `kind`, of at most
 * {@link MAX_REMOTE_URL_LENGTH} characters of well-formed text without control characters. So a
 * `javascript:` or `data:` link, which would run in the application's page, or a connect page on
 * another site than the server's, never reaches the application.
 */
const urlOf = (kind: UrlKind): Rule => new Rule('url', 'string', [kind], MAX_REMOTE_URL_LENGTH);
/**
 * A value of `field` (any JSON when not given) that nests objects and arrays at most `maxDepth` levels,
 * checked in the same walk as the rest of the answer.
 */
const nestedUpTo = (maxDepth: number, field?: Field): Rule =>
  new Rule('nested', field ?? 'any', [], maxDepth);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whether `value` is of `kind`, or null when `orNull`: one function for every plain field, so it inlines. */
function isKind(value: unknown, kind: Kind, orNull: boolean): boolean {
  if (value === null) return orNull;
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'number':
      return typeof value === 'number';
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'date':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    case 'count':
      return Number.isSafeInteger(value) && (value as number) >= 0;
  }
}

/** A plain field (`'string'`, `'date|null'`): its kind, and whether null passes. */
interface Leaf {
  kind: Kind;
  orNull: boolean;
  expected: string;
}

function leafOf(field: `${Kind}` | `${Kind}|null`): Leaf {
  const orNull = field.endsWith('|null');
  return {
    kind: (orNull ? field.slice(0, -'|null'.length) : field) as Kind,
    orNull,
    expected: nameOf(field),
  };
}

/** What a field holds, in words: `string`, `date or null`, `array`. */
function nameOf(field: Field): string {
  if (field instanceof Rule) {
    if (field.is === 'optional') return nameOf(field.field);
    if (field.is === 'nullable') return `${nameOf(field.field)} or null`;
    if (field.is === 'oneOf' || field.is === 'text' || field.is === 'upTo') return 'string';
    if (field.is === 'url') return 'URL';
    if (field.is === 'nested') return nameOf(field.field);
    return field.is === 'list' ? 'array' : 'object';
  }
  if (typeof field === 'object') return 'object';
  return field.replace('count', 'whole number').replace('|', ' or ');
}

/** Where a check failed: the keys to the field (none for the value itself), and what it held. */
interface Problem {
  path: Array<string | number>;
  expected: string;
  got: unknown;
  /** A {@link oneOf} field that holds a string: the values the SDK knows. */
  known?: readonly string[];
  /** A {@link textUpTo}, {@link stringUpTo} or {@link urlOf} field: why its string is not one (`is 300 characters long, over …`). */
  why?: string;
  /** What the message says after `why`: what to do (else: that a toolmux server never sends it). */
  fix?: string;
  /** A {@link nestedUpTo} field: the levels it nests more than. */
  deeperThan?: number;
}

/** Why `value` (text checked already) is not a URL of `kind`, or undefined. */
function urlProblem(value: string, kind: UrlKind): Pick<Problem, 'why' | 'fix'> | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { why: 'is not an absolute URL' };
  }
  if (!allowedUrlScheme(url.protocol, kind === 'callback')) {
    return { why: `is a ${shownValue(url.protocol)} URL, not an http(s) one` };
  }
  return undefined;
}

/** The check of one field: undefined when `value` passes, else the first field of it that does not. */
type Check = (value: unknown) => Problem | undefined;

const failed = (expected: string, got: unknown): Problem => ({ path: [], expected, got });

function within(key: string | number, problem: Problem): Problem {
  problem.path.unshift(key);
  return problem;
}

/**
 * The check of `field`, made once for each shape: a page of thousands of items runs it item by item,
 * and nothing is allocated for a field that passes (the path of one that fails is made on the way
 * back).
 */
function compile(field: Field): Check {
  if (field === 'any') return () => undefined;
  const expected = nameOf(field);
  if (field instanceof Rule) {
    const inner = compile(field.field);
    if (field.is === 'text' || field.is === 'url') {
      const rule = { maxLength: field.limit, allowEmpty: field.is === 'text' };
      const kind = field.values[0] as UrlKind | undefined;
      return (value) => {
        if (typeof value !== 'string') return failed(expected, value);
        const why = textProblem(value, rule);
        if (why !== undefined) return { path: [], expected, got: value, why };
        const problem = kind === undefined ? undefined : urlProblem(value, kind);
        return problem === undefined ? undefined : { path: [], expected, got: value, ...problem };
      };
    }
    if (field.is === 'upTo') {
      const maxLength = field.limit;
      return (value) => {
        if (typeof value !== 'string') return failed(expected, value);
        return value.length <= maxLength
          ? undefined
          : {
              path: [],
              expected,
              got: value,
              why: `is ${value.length} characters long, over the limit of ${maxLength}`,
            };
      };
    }
    if (field.is === 'nested') {
      const maxDepth = field.limit;
      return (value) =>
        inner(value) ??
        (parsedJsonDepthExceeds(value, maxDepth)
          ? { path: [], expected, got: value, deeperThan: maxDepth }
          : undefined);
    }
    if (field.is === 'oneOf') {
      const known = new Set(field.values);
      return (value) => {
        if (typeof value !== 'string') return failed(expected, value);
        return known.has(value) ? undefined : { path: [], expected, got: value, known: field.values };
      };
    }
    if (field.is === 'optional') return (value) => (value === undefined ? undefined : inner(value));
    if (field.is === 'nullable') {
      return (value) => {
        if (value === null) return undefined;
        const problem = inner(value);
        return problem?.path.length === 0 ? { ...problem, expected } : problem;
      };
    }
    if (field.is === 'list') {
      return (value) => {
        if (!Array.isArray(value)) return failed(expected, value);
        for (let index = 0; index < value.length; index++) {
          const problem = inner(value[index]);
          if (problem) return within(index, problem);
        }
        return undefined;
      };
    }
    return (value) => {
      if (!isObject(value)) return failed(expected, value);
      for (const key of Object.keys(value)) {
        const problem = inner(value[key]);
        if (problem) return within(key, problem);
      }
      return undefined;
    };
  }
  if (typeof field === 'object') {
    // plain fields checked here, in the loop; only the others through a check of their own
    const keys = Object.keys(field);
    const checks = keys.map((key) => {
      const inner = field[key]!;
      return typeof inner === 'string' && inner !== 'any' ? leafOf(inner) : compile(inner);
    });
    return (value) => {
      if (!isObject(value)) return failed(expected, value);
      for (let index = 0; index < keys.length; index++) {
        const key = keys[index]!;
        const check = checks[index]!;
        if (typeof check === 'function') {
          const problem = check(value[key]);
          if (problem) return within(key, problem);
        } else if (!isKind(value[key], check.kind, check.orNull)) {
          return within(key, failed(check.expected, value[key]));
        }
      }
      return undefined;
    };
  }
  const leaf = leafOf(field);
  return (value) => (isKind(value, leaf.kind, leaf.orNull) ? undefined : failed(expected, value));
}

/** A path as a message names it: `created_at`, `tools[2].slug`, `toolkits.github.status`. */
const pathText = (path: Array<string | number>): string =>
  path.map((key, index) => (typeof key === 'number' ? `[${key}]` : index === 0 ? key : `.${key}`)).join('');

/** A value that failed a check, for the message: a string only where a date was expected (the bad date). */
function shownGot(got: unknown, expected: string): string {
  if (got === null) return 'null';
  if (Array.isArray(got)) return 'an array';
  if (typeof got === 'object') return 'an object';
  if (typeof got === 'string') return expected.startsWith('date') ? shownValue(got) : 'a string';
  return `${typeof got} ${String(got).slice(0, 64)}`;
}

/**
 * The check of answers of `shape` (made once), which returns the answer as `W` and throws (a TypeError:
 * the remote client makes it SERVER_UNREACHABLE, naming the request) unless it is a JSON object of
 * `shape`: its fields of the types the SDK reads, each date one that parses. The message names the
 * first field that is not (`a connected account without a date "created_at" (got "yesterday")`). So
 * an answer of another API that baseUrl leads to, or of a server (or a proxy before it) answering
 * something else, never becomes a TypeError later or an object of undefineds and Invalid Dates.
 */
function checker<W>(what: string, shape: Shape): (value: unknown) => W {
  const check = compile(shape);
  return (value) => {
    const problem = check(value);
    if (problem === undefined) return value as W;
    const { path, expected, got, known, why, fix, deeperThan } = problem;
    if (known) {
      const knows =
        known.length <= MAX_VALUES_SHOWN
          ? `it knows ${known.map((value) => JSON.stringify(value)).join(', ')}`
          : `not one of the ${known.length} it knows`;
      throw new TypeError(
        `${what} whose "${pathText(path)}" is ${shownValue(got)}, a value this SDK does not know (${knows}): the server is likely newer than this @toolmux/core; update @toolmux/core to the server's version`,
      );
    }
    if (why !== undefined) {
      throw new TypeError(
        `${what} whose "${pathText(path)}" ${shownValue(got)} ${why}${fix ?? ', which a toolmux server never sends'}`,
      );
    }
    if (deeperThan !== undefined) {
      throw new TypeError(
        `${what} whose "${pathText(path)}" nests objects and arrays more than ${deeperThan} levels deep, which a toolmux server never sends`,
      );
    }
    if (path.length === 0) {
      throw new TypeError(`${what} that is not a JSON object (got ${shownGot(got, expected)})`);
    }
    const article = /^[aeiou]/.test(expected) ? 'an' : 'a';
    const shown = got === undefined ? '' : ` (got ${shownGot(got, expected)})`;
    throw new TypeError(`${what} without ${article} ${expected} "${pathText(path)}"${shown}`);
  };
}

/** A {@link oneOf} of more values than this (the error codes) is not listed in full by a message. */
const MAX_VALUES_SHOWN = 8;

/** Checks an answer against `shape`, then makes the SDK's object of it. */
function reader<W, T>(what: string, shape: Shape, convert: (wire: W) => T): (wire: unknown) => T {
  const check = checker<W>(what, shape);
  return (wire) => convert(check(wire));
}

/**
 * The deepest a tool result's `data`, a tool's schema or an error's `details` from the server may
 * nest: far past what a toolmux server sends (a result or a schema nests at most 128 levels), and far
 * below what makes `JSON.stringify` or a provider's walk of a schema overflow the stack (a broken or
 * hostile server answering 200,000 nested arrays made every provider throw a RangeError as it handed
 * the result on).
 */
export const MAX_REMOTE_JSON_DEPTH = 1024;

/** The longest `next_cursor` taken: what the client sends back as a query value (http.ts). */
export const MAX_REMOTE_CURSOR_LENGTH = MAX_CURSOR_LENGTH;

/**
 * The longest URL taken (a session's `mcp.url`, a connection request's links): a server's baseUrl and
 * an id, or a `callbackUrl` of at most 2,048 characters as the server normalised it.
 */
export const MAX_REMOTE_URL_LENGTH = 8192;

/**
 * The longest message taken (a tool result's `error`, a search's `next_steps`): past the longest a
 * server writes (a failed workbench cell's, cut to 100,000 characters; a handler's, to 16,384), far
 * below a message that would fill a model's context.
 */
export const MAX_REMOTE_MESSAGE_LENGTH = 262_144;

/**
 * The longest message of toolmux's own words taken from the server where the SDK hands it on as it
 * is (an error answer's `message`, cut past it; a wait's `message`, an account's `status_reason`):
 * such a message quotes at most {@link MAX_QUOTED_CHARS} characters from
 * outside (a provider's, a handler's), and its own words are far fewer.
 */
export const MAX_REMOTE_ERROR_MESSAGE_LENGTH = 2 * MAX_QUOTED_CHARS;

/** The longest `hint` of an offloaded result: a sentence naming the file (its path, at most 512). */
const MAX_OFFLOAD_HINT_LENGTH = 4_096;

/** An id of the server (`ses_…`, `log_…`, `ca_…`): what the SDK's check of an id it is given takes. */
const ID = textUpTo(MAX_ID_LENGTH);
const USER_ID = textUpTo(MAX_USER_ID_LENGTH);
const CURSOR = optional(nullable(textUpTo(MAX_REMOTE_CURSOR_LENGTH)));
/** Every code a ToolMuxError has (a tool result's `code`). */
const ERROR_CODE = oneOf(...(Object.keys(TOOLMUX_ERROR_CODES) as ToolMuxErrorCode[]));

/** An account's alias: what the SDK's own check of an alias takes. */
const ALIAS = nullable(textUpTo(MAX_ALIAS_LENGTH));
/** A message of toolmux's words (see {@link MAX_REMOTE_ERROR_MESSAGE_LENGTH}). */
const MESSAGE = stringUpTo(MAX_REMOTE_ERROR_MESSAGE_LENGTH);
/** An execution log entry's input, output or error message: what a store holds at most. */
const LOG_TEXT = stringUpTo(MAX_LOG_TEXT_LENGTH);

/** A session's metadata: values as long as a session's config takes. */
const METADATA = recordOf(stringUpTo(MAX_METADATA_VALUE_LENGTH));

const ACCOUNT_CHOICE: Shape = { id: ID, alias: ALIAS, is_default: 'boolean' };

// the server writes it from its own baseUrl, which the application may reach at another address
// (an internal one), and the session token that goes with it comes in the same answer: any http(s)
const SESSION_MCP: Shape = { url: urlOf('http'), headers: { Authorization: 'string' } };

/** The statuses the SDK branches on, each list checked against its type (none missing, none extra). */
const CONNECTION_REQUEST_STATUSES = [
  'PENDING',
  'COMPLETED',
  'FAILED',
  'EXPIRED',
] as const satisfies readonly ConnectionRequestStatus[];
const TOOLKIT_CONNECTION_STATUSES = [
  'CONNECTED',
  'PENDING',
  'FAILED',
  'EXPIRED',
  'NOT_STARTED',
] as const satisfies readonly ToolkitConnectionStatus[];
const EXECUTION_STATUSES = ['success', 'error'] as const satisfies readonly ExecutionStatus[];
const AUTH_CONFIG_TYPES = [
  'oauth2',
  'api_key',
  'bearer',
  'basic',
] as const satisfies readonly AuthConfigType[];
const AUTH_CONFIG_CREATORS = ['user', 'toolmux'] as const satisfies readonly AuthConfig['createdBy'][];
const CONNECTION_REQUEST_KINDS = ['oauth2', 'fields'] as const satisfies readonly ConnectionRequestKind[];
type Missing<Known, Listed> = Exclude<Known, Listed> extends never ? true : Exclude<Known, Listed>;
const allListed: [
  Missing<ConnectionRequestStatus, (typeof CONNECTION_REQUEST_STATUSES)[number]>,
  Missing<ToolkitConnectionStatus, (typeof TOOLKIT_CONNECTION_STATUSES)[number]>,
  Missing<EnsureConnectedWire['status'], 'CONNECTED' | 'NEEDS_USER'>,
  Missing<ExecutionStatus, (typeof EXECUTION_STATUSES)[number]>,
  Missing<ConnectionStatus, (typeof ACCOUNT_STATUSES)[number]>,
  Missing<AuthConfigType, (typeof AUTH_CONFIG_TYPES)[number]>,
  Missing<AuthConfig['createdBy'], (typeof AUTH_CONFIG_CREATORS)[number]>,
  Missing<ConnectionRequestKind, (typeof CONNECTION_REQUEST_KINDS)[number]>,
] = [true, true, true, true, true, true, true, true];
void allListed;

const CONNECTION_REQUEST: Shape = {
  id: ID,
  kind: oneOf(...CONNECTION_REQUEST_KINDS),
  user_id: USER_ID,
  toolkit: 'string',
  auth_config_id: ID,
  connected_account_id: nullable(ID),
  // `waitForConnection()` branches on it
  status: oneOf(...CONNECTION_REQUEST_STATUSES),
  // the application's own page (or the operator's defaultCallbackUrl), where the server sends the user
  callback_url: urlOf('callback'),
  // where the application sends its user to connect: the server's connect page
  redirect_url: urlOf('http'),
  expires_at: 'date',
  replaced_by_newer_requests: optional('boolean'),
  reconnect_of: optional(nullable(ID)),
};

/**
 * Every answer the remote client reads, as the server writes it (its OpenAPI document): the fields the
 * SDK reads and their types. Fields absent from older servers are `optional`.
 */
const SHAPES = {
  page: { items: 'array', next_cursor: CURSOR },
  countedPage: { items: 'array', next_cursor: CURSOR, total: 'count' },
  session: {
    session_id: ID,
    user_id: USER_ID,
    config_version: 'count',
    // handed on as session.config: the SDK reads these two; the rest nests no deeper than a result
    config: nestedUpTo(MAX_REMOTE_JSON_DEPTH, {
      customTools: listOf('string'),
      customToolkits: listOf('string'),
    }),
    metadata: METADATA,
    mcp: SESSION_MCP,
  },
  sessionMcp: SESSION_MCP,
  sessionSummary: {
    session_id: ID,
    user_id: USER_ID,
    metadata: METADATA,
    config_version: 'count',
    created_at: 'date',
    updated_at: 'date',
  },
  toolSpec: {
    slug: 'string',
    name: 'string',
    description: 'string',
    toolkit: 'string',
    input_schema: nestedUpTo(MAX_REMOTE_JSON_DEPTH, 'object'),
    strict_input_schema: optional(nestedUpTo(MAX_REMOTE_JSON_DEPTH, 'object')),
    output_schema: optional(nestedUpTo(MAX_REMOTE_JSON_DEPTH, 'object')),
    annotations: nestedUpTo(MAX_REMOTE_JSON_DEPTH, 'object'),
  },
  toolResult: {
    successful: 'boolean',
    data: nestedUpTo(MAX_REMOTE_JSON_DEPTH),
    error: nullable(stringUpTo(MAX_REMOTE_MESSAGE_LENGTH)),
    code: optional(ERROR_CODE),
    log_id: ID,
    cell_failed: optional('boolean'),
    cell_error: optional({ code: 'string', message: stringUpTo(MAX_REMOTE_MESSAGE_LENGTH) }),
  },
  toolkit: {
    slug: 'string',
    name: 'string',
    description: 'string',
    no_auth: 'boolean',
    auth_schemes: listOf('string'),
    categories: listOf('string'),
    keywords: optional(listOf('string')),
    tool_count: 'count',
    tools: listOf({ slug: 'string', name: 'string', description: 'string' }),
  },
  sessionToolkit: {
    slug: 'string',
    name: 'string',
    description: 'string',
    no_auth: 'boolean',
    connection: {
      is_active: 'boolean',
      // a status a newer server added is read as UNKNOWN (see accountStatusOf), not refused
      connected_account: optional({ id: ID, status: 'string' }),
      auth_config: optional({ id: ID, type: oneOf(...AUTH_CONFIG_TYPES), managed: 'boolean' }),
      accounts: optional(listOf(ACCOUNT_CHOICE)),
      account_selection_required: optional('boolean'),
    },
  },
  executionLog: {
    id: ID,
    session_id: nullable(ID),
    user_id: USER_ID,
    tool_slug: 'string',
    toolkit: 'string',
    connected_account_id: nullable(ID),
    call_id: nullable(ID),
    status: oneOf(...EXECUTION_STATUSES),
    error_code: nullable(stringUpTo(MAX_LOG_ERROR_CODE_LENGTH)),
    error_message: nullable(LOG_TEXT),
    duration_ms: 'number',
    input: LOG_TEXT,
    output: LOG_TEXT,
    created_at: 'date',
    parent_id: optional(nullable(ID)),
  },
  authConfig: {
    id: ID,
    toolkit: 'string',
    type: oneOf(...AUTH_CONFIG_TYPES),
    created_by: oneOf(...AUTH_CONFIG_CREATORS),
    name: 'string|null',
    client_id: 'string|null',
    scopes: nullable(listOf('string')),
    has_client_secret: 'boolean',
    created_at: 'date',
    updated_at: 'date',
  },
  connectedAccount: {
    id: ID,
    user_id: USER_ID,
    toolkit: 'string',
    auth_config_id: ID,
    alias: optional(ALIAS),
    status: 'string',
    status_reason: nullable(MESSAGE),
    connected_at: 'date|null',
    expires_at: 'date|null',
    created_at: 'date',
    updated_at: 'date',
  },
  connectionRequest: CONNECTION_REQUEST,
  ensureConnected: { status: oneOf('CONNECTED', 'NEEDS_USER') },
  ensureConnectedAccount: {
    account: nullable({ id: ID, status: oneOf('ACTIVE'), toolkit: 'string' }),
    account_selection_required: optional('boolean'),
    accounts: optional(listOf(ACCOUNT_CHOICE)),
  },
  ensureConnectedRequest: { request: CONNECTION_REQUEST },
  waitForConnections: {
    toolkits: recordOf({
      status: oneOf(...TOOLKIT_CONNECTION_STATUSES),
      connected_account_id: optional(ID),
      account_selection_required: optional('boolean'),
      accounts: optional(listOf(ACCOUNT_CHOICE)),
      connection_request_id: optional(ID),
      expires_at: optional('date'),
      message: MESSAGE,
    }),
    timed_out: 'boolean',
  },
  search: {
    results: listOf({
      use_case: 'string',
      tools: listOf({
        tool_slug: 'string',
        toolkit: 'string',
        description: 'string',
        input_schema: nestedUpTo(MAX_REMOTE_JSON_DEPTH, 'object'),
      }),
    }),
    toolkit_connections: listOf({
      toolkit: 'string',
      connected: 'boolean',
      connected_account_id: optional(ID),
      accounts: optional(listOf(ACCOUNT_CHOICE)),
      account_selection_required: optional('boolean'),
    }),
    // it names the toolkits found, as many as the results have
    next_steps: stringUpTo(MAX_REMOTE_MESSAGE_LENGTH),
  },
  // data: nested no deeper than an embedded proxy call's (deeper JSON stays text there)
  proxy: { status: 'count', headers: recordOf('string'), data: nestedUpTo(MAX_REMOTE_JSON_DEPTH) },
  offload: {
    offloaded: nullable({
      path: textUpTo(MAX_PATH_LENGTH),
      size: 'count',
      preview: stringUpTo(OFFLOAD_PREVIEW_CHARS),
      hint: stringUpTo(MAX_OFFLOAD_HINT_LENGTH),
    }),
    not_offloaded: optional(
      nullable({
        size: 'count',
        preview: stringUpTo(OFFLOAD_PREVIEW_CHARS),
        reason: stringUpTo(MAX_OFFLOAD_HINT_LENGTH),
        hint: stringUpTo(MAX_OFFLOAD_HINT_LENGTH),
      }),
    ),
  },
} as const satisfies Record<string, Shape>;

const cursorOf = (value: string | null | undefined): string | undefined => value ?? undefined;
const dateOrNull = (value: string | null): Date | null => (value === null ? null : new Date(value));

const pageCheck = checker<Paged<unknown>>('a page', SHAPES.page);
const countedPageCheck = checker<Paged<unknown> & { total: number }>('a page', SHAPES.countedPage);

/** A page of `convert`ed items; an item that fails its check is named by its index. */
export function pageOf<T>(
  page: unknown,
  convert: (item: unknown) => T,
): { items: T[]; nextCursor: string | undefined } {
  const checkedPage = pageCheck(page);
  const items = checkedPage.items.map((item, index) => {
    try {
      return convert(item);
    } catch (error) {
      if (error instanceof TypeError) throw new TypeError(`a page's items[${index}]: ${error.message}`);
      throw error;
    }
  });
  return { items, nextCursor: cursorOf(checkedPage.next_cursor) };
}

/** {@link pageOf} of a list that counts its items (`total`). */
export function countedPageOf<T>(
  page: unknown,
  convert: (item: unknown) => T,
): { items: T[]; nextCursor: string | undefined; total: number } {
  const { total } = countedPageCheck(page);
  return { ...pageOf(page, convert), total };
}

/** A session as the server describes it, checked before a session object is made of it. */
export const sessionWireOf = checker<SessionWire>('a session', SHAPES.session);
export const sessionMcpOf = checker<SessionWire['mcp']>("a session's MCP endpoint", SHAPES.sessionMcp);
/** A connection request as the server describes it. */
export const connectionRequestWireOf: (wire: unknown) => ConnectionRequestWire =
  checker<ConnectionRequestWire>('a connection request', SHAPES.connectionRequest);
// What the model or the application receives is made of the fields the SDK knows, as the other
// readers make it: a field the server adds (of any size or depth) is not handed on unchecked.
export const searchResultOf = reader(
  'a search result',
  SHAPES.search,
  (wire: SearchToolsResult): SearchToolsResult => ({
    results: wire.results.map(({ use_case, tools }) => ({
      use_case,
      tools: tools.map(({ tool_slug, toolkit, description, input_schema }) => ({
        tool_slug,
        toolkit,
        description,
        input_schema,
      })),
    })),
    toolkit_connections: wire.toolkit_connections.map((entry) => ({
      toolkit: entry.toolkit,
      connected: entry.connected,
      ...(entry.connected_account_id !== undefined
        ? { connected_account_id: entry.connected_account_id }
        : {}),
      ...(entry.accounts !== undefined
        ? { accounts: entry.accounts.map(({ id, alias, is_default }) => ({ id, alias, is_default })) }
        : {}),
      ...(entry.account_selection_required !== undefined
        ? { account_selection_required: entry.account_selection_required }
        : {}),
    })),
    next_steps: wire.next_steps,
  }),
);
export const proxyResponseOf = reader(
  'a proxy answer',
  SHAPES.proxy,
  (wire: ProxyExecuteResponse): ProxyExecuteResponse => ({
    status: wire.status,
    headers: wire.headers,
    data: wire.data,
  }),
);
export const offloadOf = reader(
  'an offload answer',
  SHAPES.offload,
  ({ offloaded, not_offloaded: not }: OffloadWire): OffloadWire => ({
    offloaded:
      offloaded === null
        ? null
        : { path: offloaded.path, size: offloaded.size, preview: offloaded.preview, hint: offloaded.hint },
    not_offloaded:
      not === null || not === undefined
        ? null
        : { size: not.size, preview: not.preview, reason: not.reason, hint: not.hint },
  }),
);

/** The accounts of an answer, their fields only (the shapes checked them). */
function accountChoicesOf(
  accounts: Array<{ id: string; alias: string | null; is_default: boolean }> | undefined,
): Array<{ id: string; alias: string | null; is_default: boolean }> {
  return (accounts ?? []).map(({ id, alias, is_default }) => ({ id, alias, is_default }));
}

const ENSURE_CONNECTED = 'an ensure-connected answer';
const ensureConnectedChecks = {
  status: checker<{ status: EnsureConnectedWire['status'] }>(ENSURE_CONNECTED, SHAPES.ensureConnected),
  CONNECTED: checker<EnsureConnectedWire>(ENSURE_CONNECTED, SHAPES.ensureConnectedAccount),
  NEEDS_USER: checker<EnsureConnectedWire>(ENSURE_CONNECTED, SHAPES.ensureConnectedRequest),
};

/** `POST /sessions/:id/ensure-connected`: checked as the shape its `status` says. */
export function ensureConnectedWireOf(wire: unknown): EnsureConnectedWire {
  const checked = ensureConnectedChecks[ensureConnectedChecks.status(wire).status](wire);
  if (checked.status === 'NEEDS_USER') return checked;
  const { account } = checked;
  return {
    status: 'CONNECTED',
    account: account === null ? null : { id: account.id, status: account.status, toolkit: account.toolkit },
    ...(checked.account_selection_required === true
      ? { account_selection_required: true, accounts: accountChoicesOf(checked.accounts) }
      : {}),
  };
}

export const waitForConnectionsOf = reader(
  'a wait answer',
  SHAPES.waitForConnections,
  (wire: WaitForConnectionsWire): WaitForConnectionsResult => ({
    toolkits: Object.fromEntries(
      Object.entries(wire.toolkits).map(([slug, state]) => [
        slug,
        {
          status: state.status,
          ...(state.status === 'CONNECTED'
            ? {
                account: state.connected_account_id
                  ? { id: state.connected_account_id, status: 'ACTIVE' as const }
                  : null,
              }
            : {}),
          ...(state.status === 'CONNECTED' && state.account_selection_required === true
            ? {
                accountSelectionRequired: true as const,
                accounts: accountChoicesOf(state.accounts).map(({ id, alias, is_default }) => ({
                  id,
                  alias,
                  isDefault: is_default,
                })),
              }
            : {}),
          ...(state.connection_request_id ? { connectionRequestId: state.connection_request_id } : {}),
          ...(state.expires_at ? { expiresAt: new Date(state.expires_at) } : {}),
          message: state.message,
        },
      ]),
    ),
    timedOut: wire.timed_out,
  }),
);

export const sessionSummaryOf = reader(
  'a session summary',
  SHAPES.sessionSummary,
  (wire: SessionSummaryWire): SessionSummary => ({
    sessionId: wire.session_id,
    userId: wire.user_id,
    metadata: wire.metadata,
    configVersion: wire.config_version,
    createdAt: new Date(wire.created_at),
    updatedAt: new Date(wire.updated_at),
  }),
);

export const toolSpecOfWire = reader(
  'a tool',
  SHAPES.toolSpec,
  (wire: ToolSpecWire): ToolSpec => ({
    slug: wire.slug,
    name: wire.name,
    description: wire.description,
    toolkit: wire.toolkit,
    inputSchema: wire.input_schema,
    ...(wire.strict_input_schema ? { strictInputSchema: wire.strict_input_schema } : {}),
    ...(wire.output_schema ? { outputSchema: wire.output_schema } : {}),
    annotations: wire.annotations,
  }),
);

export const toolResultOf = reader('a tool result', SHAPES.toolResult, (wire: ToolResultWire): ToolResult => {
  // what the application branches on must say one thing: a failure says why and has no data, a
  // success says nothing of a failure
  const failedWithData = !wire.successful && wire.data !== null && wire.data !== undefined;
  const failedCellOfFailure = !wire.successful && wire.cell_failed === true;
  if (
    wire.successful
      ? wire.error !== null || wire.code !== undefined
      : wire.error === null || failedWithData || failedCellOfFailure
  ) {
    throw new TypeError(
      wire.successful
        ? `a successful tool result with ${wire.error !== null ? 'an "error"' : 'a "code"'}, which only a failed one has`
        : failedWithData
          ? `a failed tool result whose "data" is ${shownValue(wire.data)}, not null: a failed one has none`
          : failedCellOfFailure
            ? 'a failed tool result with "cell_failed": true, which only a successful workbench cell has'
            : 'a failed tool result whose "error" is null: a failed one says why',
    );
  }
  if (wire.successful) {
    return {
      successful: true,
      data: wire.data ?? null,
      error: null,
      logId: wire.log_id,
      ...(wire.cell_failed === true ? { cellFailed: true as const } : {}),
      ...(wire.cell_failed === true && wire.cell_error
        ? { cellError: { code: wire.cell_error.code, message: wire.cell_error.message } }
        : {}),
    };
  }
  return {
    successful: false,
    data: null,
    error: wire.error as string, // a failure whose error is null was refused above
    ...(wire.code ? { code: wire.code } : {}),
    logId: wire.log_id,
  };
});

export const toolkitInfoOf = reader(
  'a toolkit',
  SHAPES.toolkit,
  (wire: ToolkitWire): ToolkitInfo => ({
    slug: wire.slug,
    name: wire.name,
    description: wire.description,
    noAuth: wire.no_auth,
    authSchemes: wire.auth_schemes,
    categories: wire.categories,
    keywords: wire.keywords ?? [],
    toolCount: wire.tool_count,
    tools: wire.tools.map(({ slug, name, description }) => ({ slug, name, description })),
  }),
);

export const sessionToolkitOf = reader(
  "a session's toolkit",
  SHAPES.sessionToolkit,
  (wire: SessionToolkitWire): SessionToolkit => ({
    slug: wire.slug,
    name: wire.name,
    description: wire.description,
    noAuth: wire.no_auth,
    connection: {
      isActive: wire.connection.is_active,
      ...(wire.connection.connected_account
        ? {
            connectedAccount: {
              id: wire.connection.connected_account.id,
              status: accountStatusOf(wire.connection.connected_account.status),
            },
          }
        : {}),
      ...(wire.connection.auth_config
        ? {
            authConfig: {
              id: wire.connection.auth_config.id,
              type: wire.connection.auth_config.type,
              managed: wire.connection.auth_config.managed,
            },
          }
        : {}),
      ...(wire.connection.accounts
        ? {
            accounts: wire.connection.accounts.map((account) => ({
              id: account.id,
              alias: account.alias,
              isDefault: account.is_default,
            })),
            accountSelectionRequired: wire.connection.account_selection_required === true,
          }
        : {}),
    },
  }),
);

export const executionLogOf = reader(
  'an execution log entry',
  SHAPES.executionLog,
  (wire: ExecutionLogWire): ExecutionLog => ({
    id: wire.id,
    sessionId: wire.session_id,
    userId: wire.user_id,
    toolSlug: wire.tool_slug,
    toolkit: wire.toolkit,
    connectedAccountId: wire.connected_account_id,
    callId: wire.call_id,
    status: wire.status,
    errorCode: wire.error_code,
    errorMessage: wire.error_message,
    durationMs: wire.duration_ms,
    input: wire.input,
    output: wire.output,
    createdAt: new Date(wire.created_at),
    parentId: wire.parent_id ?? null,
  }),
);

export function executionLogWire(record: ExecutionLogRecord): ExecutionLogWire {
  return {
    id: record.id,
    session_id: record.sessionId,
    user_id: record.userId,
    tool_slug: record.toolSlug,
    toolkit: record.toolkit,
    connected_account_id: record.connectedAccountId,
    call_id: record.callId,
    status: record.status,
    error_code: record.errorCode,
    error_message: record.errorMessage,
    duration_ms: record.durationMs,
    input: record.input,
    output: record.output,
    created_at: record.createdAt.toISOString(),
    parent_id: record.parentId ?? null,
  };
}

export const authConfigOf = reader(
  'an auth config',
  SHAPES.authConfig,
  (wire: AuthConfigWire): AuthConfig => ({
    id: wire.id,
    toolkit: wire.toolkit,
    type: wire.type,
    createdBy: wire.created_by,
    name: wire.name ?? undefined,
    clientId: wire.client_id ?? undefined,
    scopes: wire.scopes ?? undefined,
    hasClientSecret: wire.has_client_secret,
    createdAt: new Date(wire.created_at),
    updatedAt: new Date(wire.updated_at),
  }),
);

/**
 * A connected account's status as the SDK reports it: the server's when the SDK knows it, else
 * `UNKNOWN`. Unlike the statuses the SDK branches on (a connection request's, a wait's), an account's
 * is only handed on: a newer server's added status must not fail a list of accounts (every account of
 * a user, for one of them), so it is read as the one value the type has for it.
 */
function accountStatusOf(status: string): ConnectedAccountStatus {
  return (ACCOUNT_STATUSES as readonly string[]).includes(status) ? (status as ConnectionStatus) : 'UNKNOWN';
}

export const connectedAccountOf = reader(
  'a connected account',
  SHAPES.connectedAccount,
  (wire: ConnectedAccountWire): ConnectedAccount => ({
    id: wire.id,
    userId: wire.user_id,
    toolkit: wire.toolkit,
    authConfigId: wire.auth_config_id,
    alias: wire.alias ?? null,
    status: accountStatusOf(wire.status),
    statusReason: wire.status_reason,
    connectedAt: dateOrNull(wire.connected_at),
    expiresAt: dateOrNull(wire.expires_at),
    createdAt: new Date(wire.created_at),
    updatedAt: new Date(wire.updated_at),
  }),
);

export const connectionRequestInfoOf: (wire: unknown) => ConnectionRequestInfo = reader(
  'a connection request',
  SHAPES.connectionRequest,
  (wire: ConnectionRequestWire): ConnectionRequestInfo => ({
    id: wire.id,
    kind: wire.kind,
    userId: wire.user_id,
    toolkit: wire.toolkit,
    authConfigId: wire.auth_config_id,
    connectedAccountId: wire.connected_account_id,
    status: wire.status,
    callbackUrl: wire.callback_url,
    expiresAt: new Date(wire.expires_at),
    redirectUrl: wire.redirect_url,
    // a server of before the field does not say
    ...(wire.replaced_by_newer_requests !== undefined
      ? { replacedByNewerRequests: wire.replaced_by_newer_requests }
      : {}),
    ...(wire.reconnect_of !== undefined ? { reconnectOf: wire.reconnect_of } : {}),
  }),
);
