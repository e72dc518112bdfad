import { dirname, join } from 'node:path';
import { Catalog } from './catalog/catalog.js';
import type { Tool, Toolkit } from './catalog/types.js';
import {
  isToolVisible,
  normalizeSessionConfig,
  parseSessionConfig,
  type SessionConfig,
} from './config/session-config.js';
import { ToolMuxError } from './errors.js';
import { type ExecutionEnvironment, executeTool, rejectToolCall } from './execution/execute.js';
import { ExecutionLogWriter } from './execution/log-writer.js';
import { resolveAccount } from './execution/resolve-account.js';
import type { ToolResult } from './execution/result.js';
import { type CollectionOf, PlainProvider, type Provider } from './provider.js';
import { Session, type SessionRuntime, toolSpecOf } from './session.js';
import { openStore, parseStoreSpec } from './store/open-store.js';
import type { SessionRecord, Store } from './store/types.js';
import { newId } from './util/ids.js';
import { consoleLogger, type Logger } from './util/logger.js';
import { decodeOffsetCursor, encodeOffsetCursor, validateLimit } from './util/pagination.js';
import { deriveSessionToken, hashToken, resolveSecretKey } from './util/secret-key.js';

export interface ToolMuxOptions<P extends Provider<unknown>> {
  /** Turns tools into your framework's tool type. @default new PlainProvider() */
  provider?: P;
  /** The catalog: built-in toolkits (`@toolmux/toolkits`) and your own `defineToolkit()`s. @default [] */
  toolkits?: readonly Toolkit[];
  /**
   * Where sessions, accounts and logs live: `'sqlite:./path.db'`, `':memory:'`, `'postgres://…'`, or
   * a Store. @default 'sqlite:./.toolmux/toolmux.db'
   */
  store?: string | Store;
  /**
   * 32-byte key (base64 or hex) that encrypts credentials and derives session tokens.
   * @default process.env.TOOLMUX_SECRET_KEY, else a key file created beside the SQLite database
   */
  secretKey?: string;
  /** Where @toolmux/server is reachable (MCP URLs, OAuth callbacks). @default 'http://localhost:8787' */
  baseUrl?: string;
  /** Adds an embedding model to tool search (hybrid ranking). */
  embed?: (texts: string[]) => Promise<number[][]>;
  /** `fetch` handed to tool handlers. @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** @default console (debug only with TOOLMUX_DEBUG=1) */
  logger?: Logger;
}

/** A toolkit as `toolkits.list()` / `toolkits.get()` describe it. */
export interface ToolkitInfo {
  slug: string;
  name: string;
  description: string;
  noAuth: boolean;
  authSchemes: string[];
  categories: string[];
  toolCount: number;
  tools: Array<{ slug: string; name: string; description: string }>;
}

/** A session as `sessions.list()` lists it. */
export interface SessionSummary {
  sessionId: string;
  userId: string;
  metadata: Record<string, string>;
  configVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

interface Engine {
  store: Store;
  key: Buffer;
  env: ExecutionEnvironment;
}

const USER_ID_MAX = 256;

function checkUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId.trim() === '' || userId.length > USER_ID_MAX) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `userId must be a non-empty string of at most ${USER_ID_MAX} characters (your application's id for the user), got ${JSON.stringify(userId)}.`,
    });
  }
  return userId;
}

function toolkitInfo(toolkit: Toolkit): ToolkitInfo {
  return {
    slug: toolkit.slug,
    name: toolkit.name,
    description: toolkit.description,
    noAuth: toolkit.noAuth,
    authSchemes: toolkit.auth.map((scheme) => scheme.type),
    categories: [...toolkit.categories],
    toolCount: toolkit.tools.length,
    tools: toolkit.tools.map((tool) => ({ slug: tool.slug, name: tool.name, description: tool.description })),
  };
}

/**
 * The toolmux engine: a catalog of toolkits, a store, and sessions that route an agent's tool calls.
 *
 * @example
 * const mux = new ToolMux({ toolkits: [acme] });
 * const session = await mux.create('user_123', { toolkits: ['acme'] });
 * const tools = await session.tools();
 */
export class ToolMux<P extends Provider<unknown> = PlainProvider> {
  readonly provider: P;
  readonly catalog: Catalog;
  readonly baseUrl: string;
  readonly #options: ToolMuxOptions<P>;
  readonly #logger: Logger;
  #engine: Promise<Engine> | undefined;

  constructor(options: ToolMuxOptions<P> = {}) {
    this.#options = options;
    this.provider = options.provider ?? (new PlainProvider() as unknown as P);
    this.#logger = options.logger ?? consoleLogger;
    this.catalog = new Catalog(options.toolkits ?? [], { embed: options.embed });
    this.baseUrl = (options.baseUrl ?? 'http://localhost:8787').replace(/\/+$/, '');
    if (!/^https?:\/\//.test(this.baseUrl)) {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `baseUrl must be an http(s) URL, got "${options.baseUrl}".`,
      });
    }
  }

  /** Opens the store and loads the key on first use; later calls share the same promise. */
  #ready(): Promise<Engine> {
    this.#engine ??= (async () => {
      const spec = this.#options.store;
      const parsed = typeof spec === 'object' ? undefined : parseStoreSpec(spec);
      const key = resolveSecretKey({
        secretKey: this.#options.secretKey,
        keyFile:
          parsed?.dialect === 'sqlite' && parsed.path !== ':memory:'
            ? join(dirname(parsed.path), 'secret.key')
            : undefined,
        ephemeral: parsed?.dialect === 'sqlite' && parsed.path === ':memory:',
        logger: this.#logger,
      });
      const store = await openStore(spec);
      const env: ExecutionEnvironment = {
        store,
        logs: new ExecutionLogWriter(store, this.#logger),
        logger: this.#logger,
        fetch: this.#options.fetch ?? globalThis.fetch,
        resolveAccount,
      };
      return { store, key, env };
    })();
    this.#engine.catch(() => {
      this.#engine = undefined;
    });
    return this.#engine;
  }

  #runtime(engine: Engine, catalog: Catalog): SessionRuntime {
    return {
      env: engine.env,
      catalog,
      provider: this.provider,
      mcpUrl: (sessionId) => `${this.baseUrl}/mcp/${sessionId}`,
      sessionToken: (sessionId) => deriveSessionToken(engine.key, sessionId),
    };
  }

  /**
   * Creates a session for one of your users. The config is validated against the catalog; every
   * mistake is a ToolMuxError naming the bad value.
   */
  async create(userId: string, config: SessionConfig = {}): Promise<Session<CollectionOf<P>>> {
    checkUserId(userId);
    const parsed = parseSessionConfig(config);
    const customTools = parsed.experimental?.customTools ?? [];
    const customToolkits = parsed.experimental?.customToolkits ?? [];
    const catalog = this.catalog.extend(customToolkits, customTools);
    const normalized = normalizeSessionConfig(parsed, catalog);
    if (userId === 'default') {
      this.#logger.warn(
        'toolmux: a session for user "default" shares connected accounts with every caller using that id; pass your own user id.',
      );
    }
    const engine = await this.#ready();
    const id = newId('ses');
    const now = new Date();
    const record: SessionRecord = {
      id,
      userId,
      config: normalized as unknown as Record<string, unknown>,
      configVersion: 1,
      tokenHash: hashToken(deriveSessionToken(engine.key, id)),
      metadata: normalized.metadata,
      createdAt: now,
      updatedAt: now,
    };
    await engine.store.insertSession(record);
    return new Session(record, this.#runtime(engine, catalog), {
      tools: customTools,
      toolkits: customToolkits,
    });
  }

  /**
   * Resumes a stored session (in a later turn, another process, another instance). Custom tools the
   * session was created with must be given again: their code is not stored.
   */
  async use(
    sessionId: string,
    options: { customTools?: Tool[]; customToolkits?: Toolkit[] } = {},
  ): Promise<Session<CollectionOf<P>>> {
    const engine = await this.#ready();
    const record = typeof sessionId === 'string' ? await engine.store.getSession(sessionId) : undefined;
    if (!record) {
      throw new ToolMuxError({
        code: 'SESSION_NOT_FOUND',
        message: `No session "${String(sessionId)}". Create one with create(userId, config); session ids start with "ses_".`,
      });
    }
    const config = record.config as { customTools?: string[]; customToolkits?: string[] };
    const customTools = options.customTools ?? [];
    const customToolkits = options.customToolkits ?? [];
    const missing = [
      ...(config.customTools ?? []).filter((slug) => !customTools.some((tool) => tool.slug === slug)),
      ...(config.customToolkits ?? []).filter(
        (slug) => !customToolkits.some((toolkit) => toolkit.slug === slug),
      ),
    ];
    if (missing.length > 0) {
      throw new ToolMuxError({
        code: 'SESSION_CUSTOM_TOOLS_MISSING',
        message: `Session ${sessionId} was created with custom tools or toolkits ${missing.join(', ')}; pass them again: use(sessionId, { customTools, customToolkits }).`,
      });
    }
    const catalog = this.catalog.extend(customToolkits, customTools);
    return new Session(record, this.#runtime(engine, catalog), {
      tools: customTools,
      toolkits: customToolkits,
    });
  }

  readonly sessions = {
    /** Sessions, newest first, optionally of one user. */
    list: async (
      query: { userId?: string; limit?: number; cursor?: string } = {},
    ): Promise<{
      items: SessionSummary[];
      nextCursor: string | undefined;
    }> => {
      const engine = await this.#ready();
      const page = await engine.store.listSessions({
        userId: query.userId,
        limit: query.limit ?? 20,
        cursor: query.cursor,
      });
      return {
        items: page.items.map((record) => ({
          sessionId: record.id,
          userId: record.userId,
          metadata: record.metadata,
          configVersion: record.configVersion,
          createdAt: record.createdAt,
          updatedAt: record.updatedAt,
        })),
        nextCursor: page.nextCursor,
      };
    },
  };

  readonly toolkits = {
    /** Toolkits of the catalog, by slug, optionally matching a search text. */
    list: async (
      query: { search?: string; limit?: number; cursor?: string } = {},
    ): Promise<{
      items: ToolkitInfo[];
      nextCursor: string | undefined;
      total: number;
    }> => {
      const limit = validateLimit(query.limit ?? 50, 500);
      const offset = decodeOffsetCursor(query.cursor);
      const needle = query.search?.trim().toLowerCase();
      const all = [...this.catalog.toolkits.values()]
        .filter(
          (toolkit) =>
            !needle ||
            toolkit.slug.includes(needle) ||
            toolkit.name.toLowerCase().includes(needle) ||
            toolkit.description.toLowerCase().includes(needle),
        )
        .sort((a, b) => a.slug.localeCompare(b.slug));
      return {
        items: all.slice(offset, offset + limit).map(toolkitInfo),
        nextCursor: offset + limit < all.length ? encodeOffsetCursor(offset + limit) : undefined,
        total: all.length,
      };
    },
    /** One toolkit with its tools. */
    get: async (slug: string): Promise<ToolkitInfo> => toolkitInfo(this.catalog.getToolkit(slug)),
  };

  readonly tools = {
    /** Provider-wrapped tools for a user, without a session or meta-tools. */
    get: async (
      userId: string,
      filter: Pick<SessionConfig, 'toolkits' | 'tools' | 'tags'>,
    ): Promise<CollectionOf<P>> => {
      checkUserId(userId);
      const parsed = parseSessionConfig(filter);
      const config = normalizeSessionConfig(parsed, this.catalog);
      const tools = [...this.catalog.tools.values()].filter((tool) => isToolVisible(config, tool));
      return this.provider.wrapTools(tools.map(toolSpecOf), (slug, args, options) =>
        this.tools.execute(slug, {
          userId,
          arguments: args,
          callId: options?.callId,
          signal: options?.signal,
        }),
      ) as CollectionOf<P>;
    },
    /** Runs one tool for a user, without a session. */
    execute: async (
      slug: string,
      request: {
        userId: string;
        arguments?: unknown;
        connectedAccountId?: string;
        signal?: AbortSignal;
        callId?: string;
      },
    ): Promise<ToolResult> => {
      checkUserId(request.userId);
      const engine = await this.#ready();
      const tool = this.catalog.tools.get(slug);
      if (!tool) {
        return rejectToolCall(
          engine.env,
          {
            slug,
            arguments: request.arguments,
            userId: request.userId,
            sessionId: null,
            callId: request.callId,
          },
          new ToolMuxError({ code: 'TOOL_NOT_FOUND', message: `There is no tool "${slug}" in the catalog.` }),
        );
      }
      return executeTool(engine.env, {
        tool,
        toolkit: this.catalog.getToolkit(tool.toolkit),
        arguments: request.arguments ?? {},
        userId: request.userId,
        sessionId: null,
        callId: request.callId,
        signal: request.signal,
        connectedAccountId: request.connectedAccountId,
      });
    },
  };

  /** Closes the store. */
  async close(): Promise<void> {
    const engine = this.#engine;
    this.#engine = undefined;
    if (engine) {
      const { env, store } = await engine;
      await env.logs.flush();
      await store.close();
    }
  }
}
