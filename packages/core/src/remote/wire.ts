import type {
  AuthConfig,
  AuthConfigType,
  ConnectedAccount,
  ConnectionRequestInfo,
  ConnectionRequestKind,
  ConnectionRequestStatus,
  ConnectionStatus,
} from '../auth/types.js';
import type { JSONSchema, ToolAnnotations } from '../catalog/types.js';
import type { NormalizedSessionConfig } from '../config/session-config.js';
import type { ToolMuxErrorCode } from '../errors.js';
import type { ToolResult } from '../execution/result.js';
import type { ToolSpec } from '../provider.js';
import type { ExecutionLog, SessionToolkit } from '../session.js';
import type { ExecutionLogRecord } from '../store/types.js';
import type { SessionSummary, ToolkitInfo } from '../toolmux-types.js';

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
  arguments: unknown;
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
  code?: string;
  log_id: string;
}

export interface ToolkitWire {
  slug: string;
  name: string;
  description: string;
  no_auth: boolean;
  auth_schemes: string[];
  categories: string[];
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
  status: ConnectionStatus;
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
}

const dateOrNull = (value: string | null): Date | null => (value === null ? null : new Date(value));
const cursorOf = (value: string | null): string | undefined => value ?? undefined;

/**
 * Throws (a plain error: the remote client makes it SERVER_UNREACHABLE, naming the request) unless
 * `value` is a JSON object whose `keys` have the given types: the answer is then of the shape the
 * SDK reads, not another API's that baseUrl leads to.
 */
export function checkShape<T>(
  value: T,
  what: string,
  keys: Record<string, 'string' | 'boolean' | 'number' | 'object' | 'array'>,
): T {
  const object = value as Record<string, unknown>;
  for (const [key, type] of Object.entries(keys)) {
    const field = object?.[key];
    const ok =
      type === 'array'
        ? Array.isArray(field)
        : type === 'object'
          ? typeof field === 'object' && field !== null && !Array.isArray(field)
          : typeof field === type;
    if (!ok) throw new TypeError(`${what} without ${type === 'array' ? 'an' : 'a'} ${type} "${key}"`);
  }
  return value;
}

export function pageOf<W, T>(
  page: Paged<W>,
  convert: (item: W) => T,
): { items: T[]; nextCursor: string | undefined } {
  checkShape(page, 'a page', { items: 'array' });
  return { items: page.items.map(convert), nextCursor: cursorOf(page.next_cursor) };
}

/** A session as the server describes it, checked before a session object is made of it. */
export function sessionWireOf(wire: SessionWire): SessionWire {
  checkShape(wire, 'a session', { session_id: 'string', user_id: 'string', config: 'object', mcp: 'object' });
  checkShape(wire.config, "a session's config", { customTools: 'array', customToolkits: 'array' });
  return wire;
}

export function sessionSummaryOf(wire: SessionSummaryWire): SessionSummary {
  return {
    sessionId: wire.session_id,
    userId: wire.user_id,
    metadata: wire.metadata,
    configVersion: wire.config_version,
    createdAt: new Date(wire.created_at),
    updatedAt: new Date(wire.updated_at),
  };
}

export function toolSpecOfWire(wire: ToolSpecWire): ToolSpec {
  return {
    slug: wire.slug,
    name: wire.name,
    description: wire.description,
    toolkit: wire.toolkit,
    inputSchema: wire.input_schema,
    ...(wire.strict_input_schema ? { strictInputSchema: wire.strict_input_schema } : {}),
    ...(wire.output_schema ? { outputSchema: wire.output_schema } : {}),
    annotations: wire.annotations,
  };
}

export function toolResultOf(wire: ToolResultWire): ToolResult {
  checkShape(wire, 'a tool result', { successful: 'boolean' });
  return {
    successful: wire.successful,
    data: wire.data ?? null,
    error: wire.error,
    ...(wire.code ? { code: wire.code as ToolMuxErrorCode } : {}),
    logId: wire.log_id,
  };
}

export function toolkitInfoOf(wire: ToolkitWire): ToolkitInfo {
  return {
    slug: wire.slug,
    name: wire.name,
    description: wire.description,
    noAuth: wire.no_auth,
    authSchemes: wire.auth_schemes,
    categories: wire.categories,
    toolCount: wire.tool_count,
    tools: wire.tools,
  };
}

export function sessionToolkitOf(wire: SessionToolkitWire): SessionToolkit {
  return {
    slug: wire.slug,
    name: wire.name,
    description: wire.description,
    noAuth: wire.no_auth,
    connection: {
      isActive: wire.connection.is_active,
      ...(wire.connection.connected_account ? { connectedAccount: wire.connection.connected_account } : {}),
      ...(wire.connection.auth_config ? { authConfig: wire.connection.auth_config } : {}),
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
  };
}

export function executionLogOf(wire: ExecutionLogWire): ExecutionLog {
  return {
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
  };
}

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

export function authConfigOf(wire: AuthConfigWire): AuthConfig {
  return {
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
  };
}

export function connectedAccountOf(wire: ConnectedAccountWire): ConnectedAccount {
  return {
    id: wire.id,
    userId: wire.user_id,
    toolkit: wire.toolkit,
    authConfigId: wire.auth_config_id,
    alias: wire.alias ?? null,
    status: wire.status,
    statusReason: wire.status_reason,
    connectedAt: dateOrNull(wire.connected_at),
    expiresAt: dateOrNull(wire.expires_at),
    createdAt: new Date(wire.created_at),
    updatedAt: new Date(wire.updated_at),
  };
}

export function connectionRequestInfoOf(wire: ConnectionRequestWire): ConnectionRequestInfo {
  return {
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
  };
}
