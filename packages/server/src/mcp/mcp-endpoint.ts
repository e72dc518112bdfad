import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  JSONRPCMessageSchema,
  type JSONRPCRequest,
  LATEST_PROTOCOL_VERSION,
  type Tool as McpTool,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import type { ToolSpec } from '@toolmux/core';
import { formatToolResultForModel, ToolMuxError, type ToolResult } from '@toolmux/core';
import { isJsonContentType, readBodyText } from '../read-body.js';
import type { CachedSession, SessionCache } from '../session-cache.js';

export interface McpEndpointOptions {
  sessions: SessionCache;
  bodyLimit: number;
  serverInfo: { name: string; version: string };
  onUnexpected: (error: unknown) => void;
}

type JsonRpcId = string | number | null;

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

function rpcError(id: JsonRpcId, code: number, message: string, data?: unknown) {
  return {
    jsonrpc: '2.0' as const,
    id,
    error: data === undefined ? { code, message } : { code, message, data },
  };
}

function httpRpcError(
  status: number,
  code: number,
  message: string,
  toolmuxCode: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(rpcError(null, code, message, { code: toolmuxCode })), {
    status,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

const BEARER_REALM = 'Bearer realm="toolmux-mcp"';

function unauthorized(message: string, invalidToken: boolean): Response {
  return httpRpcError(401, -32001, message, 'UNAUTHORIZED', {
    'www-authenticate': invalidToken
      ? `${BEARER_REALM}, error="invalid_token", error_description="${message.replace(/"/g, "'")}"`
      : BEARER_REALM,
  });
}

/** What `tools/list` shows for one exposed tool. */
export function mcpToolOf(spec: ToolSpec): McpTool {
  const tool: McpTool = {
    name: spec.slug,
    description: spec.description,
    inputSchema: spec.inputSchema as McpTool['inputSchema'],
  };
  if (spec.name !== spec.slug) tool.title = spec.annotations.title ?? spec.name;
  if (Object.keys(spec.annotations).length > 0) tool.annotations = { ...spec.annotations };
  if (spec.outputSchema?.type === 'object') tool.outputSchema = spec.outputSchema as McpTool['outputSchema'];
  return tool;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A toolmux result as an MCP tool result: the text the model reads, plus structured data if declared. */
function callToolResultOf(result: ToolResult, hasOutputSchema: boolean): CallToolResult {
  const content: CallToolResult['content'] = [{ type: 'text', text: formatToolResultForModel(result) }];
  if (!result.successful) return { content, isError: true };
  if (hasOutputSchema && isPlainObject(result.data)) return { content, structuredContent: result.data };
  return { content };
}

/** What `tools/list` answers for a session, built once per cache entry. */
interface McpToolView {
  tools: McpTool[];
  /** Tools that declare an object output schema: their results carry `structuredContent`. */
  structured: Set<string>;
}

/**
 * The per-session MCP endpoint: Streamable HTTP, stateless, JSON responses.
 *
 * It answers the JSON-RPC methods a tools-only server needs (initialize, ping, tools/list,
 * tools/call) itself, validating messages with the MCP SDK's own zod schemas, instead of building
 * an SDK `Server` and transport for every request: a stateless server has no session to keep, so
 * that work is pure overhead (see bench/mcp.bench.ts). There are no server-initiated messages, so
 * every request is answered with `application/json` (which the spec allows) and GET/DELETE are 405.
 */
export class McpEndpoint {
  readonly #options: McpEndpointOptions;
  readonly #views = new WeakMap<CachedSession, McpToolView>();

  constructor(options: McpEndpointOptions) {
    this.#options = options;
  }

  /** Answers `POST /mcp/:sessionId`. */
  async handlePost(request: Request, sessionId: string): Promise<Response> {
    const authorization = request.headers.get('authorization');
    if (!authorization || !/^bearer\s+\S/i.test(authorization)) {
      return unauthorized(
        'Send the session token: Authorization: Bearer <token> (Session.mcp.headers).',
        false,
      );
    }
    let entry: CachedSession;
    try {
      entry = await this.#options.sessions.get(sessionId);
    } catch (error) {
      if (ToolMuxError.isInstance(error) && error.code === 'SESSION_NOT_FOUND') {
        return httpRpcError(404, -32001, `No session "${sessionId}".`, 'SESSION_NOT_FOUND');
      }
      if (ToolMuxError.isInstance(error)) {
        return httpRpcError(error.status, -32001, error.message, error.code);
      }
      throw error;
    }
    if (!entry.authorizes(authorization)) {
      return unauthorized('The token is not valid for this session.', true);
    }

    const protocolVersion = request.headers.get('mcp-protocol-version');
    if (protocolVersion !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion)) {
      return httpRpcError(
        400,
        ErrorCode.InvalidRequest,
        `Unsupported MCP-Protocol-Version "${protocolVersion}"; supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}.`,
        'INVALID_REQUEST',
      );
    }
    const accept = request.headers.get('accept');
    if (accept && !/application\/json|\*\/\*|application\/\*/i.test(accept)) {
      return httpRpcError(
        406,
        ErrorCode.InvalidRequest,
        'This endpoint answers with application/json: accept it.',
        'INVALID_REQUEST',
      );
    }
    if (!isJsonContentType(request.headers.get('content-type'))) {
      return httpRpcError(
        415,
        ErrorCode.InvalidRequest,
        'Send JSON-RPC messages with Content-Type: application/json.',
        'UNSUPPORTED_MEDIA_TYPE',
      );
    }

    let payload: unknown;
    try {
      payload = JSON.parse(await readBodyText(request, this.#options.bodyLimit));
    } catch (error) {
      if (ToolMuxError.isInstance(error)) {
        return httpRpcError(error.status, ErrorCode.InvalidRequest, error.message, error.code);
      }
      return httpRpcError(
        400,
        ErrorCode.ParseError,
        'Parse error: the body is not valid JSON.',
        'INVALID_REQUEST',
      );
    }

    const batch = Array.isArray(payload);
    const messages: unknown[] = Array.isArray(payload) ? payload : [payload];
    if (messages.length === 0) {
      return httpRpcError(400, ErrorCode.InvalidRequest, 'Empty JSON-RPC batch.', 'INVALID_REQUEST');
    }
    const responses: unknown[] = [];
    for (const message of messages) {
      const parsed = JSONRPCMessageSchema.safeParse(message);
      if (!parsed.success) {
        const id =
          isPlainObject(message) && (typeof message.id === 'string' || typeof message.id === 'number');
        responses.push(
          rpcError(
            id ? (message as { id: string | number }).id : null,
            ErrorCode.InvalidRequest,
            'Invalid JSON-RPC message.',
          ),
        );
        continue;
      }
      const value = parsed.data;
      // Notifications (initialized, cancelled) and responses need no answer from a stateless server.
      if (!('method' in value) || !('id' in value)) continue;
      responses.push(await this.#answer(value as JSONRPCRequest, entry, request.signal));
    }
    if (responses.length === 0) return new Response(null, { status: 202 });
    return new Response(JSON.stringify(batch ? responses : responses[0]), {
      status: 200,
      headers: JSON_HEADERS,
    });
  }

  #view(entry: CachedSession): McpToolView {
    let view = this.#views.get(entry);
    if (!view) {
      const tools = entry.specs().map(mcpToolOf);
      view = {
        tools,
        structured: new Set(tools.filter((tool) => tool.outputSchema).map((tool) => tool.name)),
      };
      this.#views.set(entry, view);
    }
    return view;
  }

  async #answer(message: JSONRPCRequest, entry: CachedSession, signal: AbortSignal): Promise<unknown> {
    const { id } = message;
    try {
      switch (message.method) {
        case 'initialize': {
          const requested = (message.params as { protocolVersion?: unknown } | undefined)?.protocolVersion;
          return {
            jsonrpc: '2.0',
            id,
            result: {
              protocolVersion:
                typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
                  ? requested
                  : LATEST_PROTOCOL_VERSION,
              capabilities: { tools: { listChanged: false } },
              serverInfo: this.#options.serverInfo,
            },
          };
        }
        case 'ping':
          return { jsonrpc: '2.0', id, result: {} };
        case 'tools/list':
          return { jsonrpc: '2.0', id, result: { tools: this.#view(entry).tools } };
        case 'tools/call': {
          const call = CallToolRequestSchema.safeParse(message);
          if (!call.success) {
            return rpcError(id, ErrorCode.InvalidParams, 'tools/call needs params.name (a tool name).');
          }
          const { name, arguments: args } = call.data.params;
          const result = await entry.session.execute(name, args ?? {}, { signal });
          return {
            jsonrpc: '2.0',
            id,
            result: callToolResultOf(result, this.#view(entry).structured.has(name)),
          };
        }
        default:
          return rpcError(id, ErrorCode.MethodNotFound, `Method not found: ${message.method}.`);
      }
    } catch (error) {
      this.#options.onUnexpected(error);
      return rpcError(id, ErrorCode.InternalError, 'Internal error: the server logged the cause.');
    }
  }
}

/** `GET` / `DELETE /mcp/:sessionId`: no SSE stream and no session to end in a stateless server. */
export function mcpMethodNotAllowed(): Response {
  return new Response(
    JSON.stringify(
      rpcError(null, -32000, 'Method not allowed: this stateless MCP endpoint only accepts POST.', {
        code: 'METHOD_NOT_ALLOWED',
      }),
    ),
    { status: 405, headers: { ...JSON_HEADERS, allow: 'POST' } },
  );
}
