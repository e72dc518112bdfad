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

/** Credentials of the connected account a call runs with; field names come from the auth scheme. */
export type Credentials = Readonly<Record<string, string>>;

/** What a tool handler receives besides its input. */
export interface ToolContext {
  /** The user the call runs for. */
  userId: string;
  /** The session the call came through, if any. */
  sessionId: string | undefined;
  /** The tool call id the framework assigned, if any. */
  callId: string | undefined;
  /** Credentials of the resolved connected account; `undefined` for toolkits without auth. */
  credentials: Credentials | undefined;
  /** Aborted when the caller aborts or the tool times out. Pass it to every request. */
  signal: AbortSignal;
  /** `fetch` to use for outgoing requests (overridable for tests). */
  fetch: typeof globalThis.fetch;
  /** Attach a note to this call's execution log entry. */
  log: (message: string, data?: Record<string, unknown>) => void;
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

export type AuthScheme =
  | { type: 'none' }
  | {
      type: 'oauth2';
      authorizationUrl: string;
      tokenUrl: string;
      scopes?: string[];
      /** @default true */
      pkce?: boolean;
      /** How the access token is sent. @default 'header' */
      tokenPlacement?: 'header';
    }
  | { type: 'api_key'; fields: AuthField[] }
  | { type: 'bearer'; fields?: AuthField[] }
  | { type: 'basic'; fields?: AuthField[] };

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
  /** Validates and coerces input against the original schema. */
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
  readonly logo: string | undefined;
  /** True when the toolkit needs no connected account. */
  readonly noAuth: boolean;
}
