import type { StandardSchemaV1 } from './standard-schema.js';

/** A JSON Schema object (draft 2020-12 as produced by zod 4, or any plain JSON Schema). */
export type JSONSchema = { [key: string]: unknown };

/** MCP tool annotations, usable as session tag filters. */
export const TOOL_TAGS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;
export type ToolTag = (typeof TOOL_TAGS)[number];

export interface ToolAnnotations {
  /** Human-readable title. */
  title?: string;
  /** The tool does not change its environment. */
  readOnlyHint?: boolean;
  /** The tool may delete or overwrite data. */
  destructiveHint?: boolean;
  /** Calling it twice with the same arguments has no further effect. */
  idempotentHint?: boolean;
  /** The tool talks to the outside world (a third-party API). */
  openWorldHint?: boolean;
}

/**
 * Credentials of the connected account a call runs with (`ctx.credentials`), by auth scheme:
 *
 * - `oauth2`: {@link OAuth2Credentials}: `{ accessToken, tokenType, scope?, expiresAt? }`. toolmux
 *   refreshes the token before it expires; the refresh token never reaches a handler.
 * - `api_key`, `bearer`, `basic`: the scheme's fields by name, e.g. `{ apiKey }`, `{ token }`,
 *   `{ username, password }` (see {@link AuthField}; `bearer` and `basic` have those defaults).
 * - `none`: `undefined`.
 */
export type Credentials = Readonly<Record<string, string>>;

/** `ctx.credentials` of an account connected with OAuth 2.0. */
export interface OAuth2Credentials {
  readonly accessToken: string;
  /** As the provider sent it, lower case: usually `bearer`. */
  readonly tokenType: string;
  /** The scopes the provider granted, as it wrote them, when it said. */
  readonly scope?: string;
  /** ISO 8601 time the access token expires, when the provider said. */
  readonly expiresAt?: string;
}

/** Where a credential goes on a request toolmux makes for a tool (`session.proxyExecute`). */
export interface CredentialPlacement {
  in: 'header' | 'query';
  /** Header or query parameter name, e.g. `Authorization`, `X-API-Key`, `api_key`. */
  name: string;
  /** Written before the value, e.g. `Bearer ` or `Token `. @default '' */
  prefix?: string;
  /** The credential field to send. @default the scheme's first secret field */
  field?: string;
}

/** What a tool handler receives besides its input. */
export interface ToolContext {
  /** The user the call runs for. */
  userId: string;
  /** The session the call came through, if any. */
  sessionId: string | undefined;
  /** The tool call id the framework assigned, if any. */
  callId: string | undefined;
  /**
   * Credentials of the resolved connected account; `undefined` for toolkits without auth. When the
   * provider refuses them (HTTP 401), throw `new ToolMuxError({ code: 'CREDENTIALS_REJECTED', message })`:
   * toolmux refreshes an OAuth token and runs the handler once more, or marks the account EXPIRED.
   */
  credentials: Credentials | undefined;
  /** Aborted when the caller aborts or the tool times out. Pass it to every request. */
  signal: AbortSignal;
  /** `fetch` to use for outgoing requests (overridable for tests). */
  fetch: typeof globalThis.fetch;
  /**
   * A note to the ToolMux's logger at debug level (prefixed by the tool and the call's log id): the
   * account's credentials are masked in it, and `data` is written as redacted JSON cut to 4 KB.
   */
  log: (message: string, data?: Record<string, unknown>) => void;
  /** The id of this call's execution log entry (`log_…`). */
  logId?: string;
}

export interface AuthField {
  /** Key of the field in the credentials object, e.g. `apiKey`. */
  name: string;
  label?: string;
  description?: string;
  /** Secret fields are encrypted and never shown. @default true */
  secret?: boolean;
  /** @default true */
  required?: boolean;
}

/** OAuth 2.0 authorization code flow (with PKCE S256 unless `pkce: false`). */
export interface OAuth2Scheme {
  type: 'oauth2';
  authorizationUrl: string;
  tokenUrl: string;
  /** Scopes asked for when the auth config names none. */
  scopes?: string[];
  /** @default true */
  pkce?: boolean;
  /** How the access token is sent. @default 'header' */
  tokenPlacement?: 'header';
  /**
   * The authorization server's issuer, checked against the `iss` of its answers (RFC 9207, ID tokens).
   * @default the origin of `authorizationUrl`
   */
  issuer?: string;
  /**
   * Whether the authorization server always sends its issuer as `iss` with the user's redirect back
   * (RFC 9207; `authorization_response_iss_parameter_supported: true` in its metadata). With `true`,
   * a callback without `iss` fails the connection (`invalid_response`, naming the issuer expected) and
   * its code is not traded: it may come from another authorization server (a mix-up attack). A callback
   * whose `iss` is not `issuer` fails either way.
   * @default false
   */
  issuerInCallback?: boolean;
  /** Extra query parameters of the authorization URL, e.g. `{ access_type: 'offline', prompt: 'consent' }`. */
  authorizationParams?: Record<string, string>;
  /** How the client authenticates at the token endpoint. @default 'client_secret_basic' */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | 'none';
  /** Separator of the `scope` parameter (Slack uses `,`). @default ' ' */
  scopeSeparator?: string;
  /**
   * Token types, besides `bearer`, that the provider answers for tokens used as Bearer tokens (Slack
   * answers `bot` and `user`); compared without case. A token answer of a type not named here (`mac`)
   * fails the connection or refresh with `invalid_response`: toolmux can only send Bearer tokens.
   * @default []
   */
  bearerTokenTypes?: string[];
  /**
   * The provider's token revocation endpoint (RFC 7009). With it, deleting a connected account (or its
   * auth config) revokes the account's tokens there first, so they stop working everywhere.
   */
  revocationUrl?: string;
  /**
   * Whether revoking one token at `revocationUrl` ends every token the user gave the OAuth client,
   * those of later sign-ins too (Google's revocation ends the user's grant to the app). Reconnecting an
   * account (`connectedAccounts.reconnect()`) revokes the tokens it replaces unless this is `true`:
   * revoking them would end the new ones. Deleting an account revokes its tokens either way.
   * @default false
   */
  revocationEndsGrant?: boolean;
  /**
   * Error codes, besides the standard `invalid_grant`, with which the provider's token endpoint says
   * that a refresh token is dead (revoked, expired, used already), in an error answer or an HTTP 200
   * with `error` (GitHub answers `bad_refresh_token`, Slack `invalid_refresh_token`). A refresh refused
   * with one of them marks the account EXPIRED, with the provider's words as its reason, and the call
   * fails with CONNECTION_EXPIRED: the user must connect again. A refresh refused with any other code
   * leaves the account ACTIVE and fails with OAUTH_ERROR (tried again by the next call).
   * @default []
   */
  refreshTokenDeadErrors?: string[];
  /**
   * Error codes, besides the standard `invalid_client` and `unauthorized_client`, with which the
   * provider's token endpoint refuses the OAuth client itself, its client id or secret (GitHub
   * answers `incorrect_client_credentials`, Slack `invalid_client_id` and `bad_client_secret`). A
   * refresh refused with one of them fails with AUTH_CONFIG_INVALID naming the auth config to fix; the
   * account stays ACTIVE, since it is not at fault. A connection whose code exchange is refused with one
   * fails with `auth_config_invalid`, its `statusReason` naming the auth config to fix.
   * @default []
   */
  clientRejectedErrors?: string[];
}

/** Schemes whose credentials are fields the user provides (an API key, a token, a password). */
export type FieldAuthScheme =
  | {
      type: 'api_key';
      fields: AuthField[];
      /** How proxyExecute sends the key. @default { in: 'header', name: 'Authorization', prefix: 'Bearer ' } */
      placement?: CredentialPlacement;
    }
  | {
      type: 'bearer';
      /** @default [{ name: 'token', secret: true }] */
      fields?: AuthField[];
    }
  | {
      type: 'basic';
      /** @default [{ name: 'username', secret: false }, { name: 'password', secret: true }] */
      fields?: AuthField[];
    };

export type AuthScheme = { type: 'none' } | OAuth2Scheme | FieldAuthScheme;

export type ValidationIssue = { path: string; message: string };
export type ValidationResult =
  | { success: true; value: unknown }
  | { success: false; issues: ValidationIssue[] };

/** A tool as the catalog holds it. Create with `defineTool`. */
export interface Tool<TInput = any, TOutput = any> {
  readonly kind: 'toolmux.tool';
  /** UPPER_SNAKE slug, prefixed by its toolkit's slug, e.g. `GITHUB_CREATE_ISSUE`. */
  readonly slug: string;
  readonly name: string;
  readonly description: string;
  /** The toolkit this tool belongs to (lower-case slug). */
  readonly toolkit: string;
  /** Plain JSON Schema of the input (always `type: "object"` at the root). */
  readonly inputSchema: JSONSchema;
  readonly outputSchema: JSONSchema | undefined;
  readonly annotations: ToolAnnotations;
  /** Free-form tags besides the MCP hints (searchable). */
  readonly tags: readonly string[];
  /** Per-call timeout. @default 60_000 */
  readonly timeoutMs: number | undefined;
  /**
   * Validates and coerces input against the original schema. Synchronous: its first call compiles a
   * JSON Schema in this turn of the event loop (0.1–0.4 ms per subschema: a schema of 2,000
   * properties holds the loop 0.3–0.5 s), and each call checks the whole value in one turn.
   * `session.execute` validates a call's arguments without either (a large schema in a worker
   * thread, large arguments a part at a time): use it for values and schemas from outside.
   */
  readonly validate: (input: unknown) => ValidationResult;
  readonly execute: (input: TInput, context: ToolContext) => Promise<TOutput> | TOutput;
  /** The original schema object given to `defineTool`, when it was a Standard Schema (zod). */
  readonly standardSchema: StandardSchemaV1 | undefined;
}

/** A named group of tools sharing authentication. Create with `defineToolkit`. */
export interface Toolkit {
  readonly kind: 'toolmux.toolkit';
  readonly slug: string;
  readonly name: string;
  readonly description: string;
  readonly tools: readonly Tool[];
  /** Auth schemes, first one is the default. Empty or `none` means no connected account is needed. */
  readonly auth: readonly AuthScheme[];
  /** Base URL of the toolkit's API (for proxyExecute and overridable in tests). */
  readonly baseUrl: string | undefined;
  readonly categories: readonly string[];
  /** Words for what the toolkit handles, which search reads for each of its tools (see `defineToolkit`). */
  readonly keywords: readonly string[];
  readonly logo: string | undefined;
  /** True when the toolkit needs no connected account. */
  readonly noAuth: boolean;
}
