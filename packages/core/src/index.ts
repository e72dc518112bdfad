export { ConnectionRequest } from './auth/connection-request.js';
export type {
  ToolkitConnectionState,
  ToolkitConnectionStatus,
  WaitForConnectionsResult,
} from './auth/connection-waiter.js';
export type {
  AuthConfig,
  AuthConfigType,
  ConnectedAccount,
  ConnectedAccountStatus,
  ConnectionRequestInfo,
  ConnectionRequestKind,
  ConnectionRequestStatus,
  ConnectionResult,
  ConnectionStatus,
  CreateAuthConfigOptions,
  ManagedAuthCredentials,
  ProxyExecuteRequest,
  ProxyExecuteResponse,
  UpdateAuthConfigOptions,
} from './auth/types.js';
export type {
  DefineToolkitOptions,
  DefineToolOptions,
  ObjectInputSchema,
  SchemaInput,
} from './catalog/define.js';
export {
  defineTool,
  defineToolkit,
  MAX_TOOL_SLUG_LENGTH,
  toolSlugFor,
  toolSlugPrefix,
  uniqueNameWithin,
} from './catalog/define.js';
export type {
  InferInput,
  InferOutput,
  StandardResult,
  StandardSchemaV1,
} from './catalog/standard-schema.js';
export type {
  AuthField,
  AuthScheme,
  CredentialPlacement,
  Credentials,
  FieldAuthScheme,
  JSONSchema,
  OAuth2Credentials,
  OAuth2Scheme,
  Tool,
  ToolAnnotations,
  ToolContext,
  Toolkit,
  ToolTag,
  ValidationIssue,
  ValidationResult,
} from './catalog/types.js';
export { TOOL_TAGS } from './catalog/types.js';
export type {
  ExplicitMetaTool,
  ManageConnectionsConfig,
  MultiAccountConfig,
  MultiAccountOptions,
  NormalizedSessionConfig,
  NormalizedSlugFilter,
  NormalizedTagFilter,
  NormalizedToolFilter,
  SessionConfig,
  SlugFilter,
  TagFilter,
  ToolFilter,
} from './config/session-config.js';
export { SessionPreset } from './config/session-config.js';
export type { ToolMuxErrorCode, ToolMuxErrorOptions } from './errors.js';
export { TOOLMUX_ERROR_CODES, ToolMuxError } from './errors.js';
export type { FailedToolResult, SuccessfulToolResult, ToolResult } from './execution/result.js';
export { formatToolResultForModel, isErrorForModel } from './execution/result.js';
export { ComposioMetaToolSlug, type MetaToolNames, MetaToolSlug } from './meta-tools/meta-tools.js';
export type {
  CollectionOf,
  ExecuteFn,
  ExecuteOptions,
  PlainTool,
  Provider,
  ToolCallReplyOf,
  ToolCallResponseOf,
  ToolSpec,
} from './provider.js';
export { PlainProvider } from './provider.js';
export {
  ANTHROPIC_PROPERTY_KEY,
  anthropicArgumentsOf,
  anthropicKeyRenamesOf,
  withAnthropicKeys,
} from './schema/anthropic-keys.js';
export {
  ANTHROPIC_STRICT_LIMITS,
  type AnthropicStrictCost,
  anthropicStrictCost,
  anthropicStrictSchemaOf,
} from './schema/anthropic-strict.js';
export type { GeminiSchemaResult, JsonOrTextPath, JsonStringPath } from './schema/gemini.js';
export {
  decodeGeminiArguments,
  GEMINI_PARAMETER_NAME,
  geminiArgumentsOf,
  geminiSchemaOf,
  geminiSchemaViolations,
  toGeminiSchema,
} from './schema/gemini.js';
export { openaiInputSchemaOf } from './schema/openai.js';
export { isModelPattern } from './schema/patterns.js';
export {
  PORTABLE_PROPERTY_KEY_RULE,
  type PropertyKeysMode,
  portableArgumentsOf,
  portableKeyRenamesOf,
  withPortableKeys,
} from './schema/portable-keys.js';
export type { PropertyKeyRenames, PropertyKeyRule } from './schema/property-keys.js';
export {
  planPropertyKeyRenames,
  renamePropertyKeys,
  restorePropertyKeys,
} from './schema/property-keys.js';
export { plainJsonCopy, type StrictSchemaOf, StrictSchemas, strictSchemaOf } from './schema/strict-spec.js';
export type {
  AuthorizeOptions,
  EnsureConnectedResult,
  ExecutionLog,
  SearchToolsResult,
  Session,
  SessionAccount,
  SessionOf,
  SessionToolkit,
  SessionToolkitsOptions,
} from './session.js';
export type {
  AuthConfigChanges,
  AuthConfigRecord,
  ConnectedAccountChanges,
  ConnectedAccountRecord,
  ConnectedAccountStatusRecord,
  ConnectionRequestRecord,
  ConnectionRequestRecordStatus,
  ConnectionWatch,
  ExecutionLogRecord,
  ExecutionStatus,
  ListAuthConfigsQuery,
  ListConnectedAccountsQuery,
  ListLogsQuery,
  ListSessionsQuery,
  Page,
  RecentConnectedAccountsQuery,
  SealedSecret,
  SealedSecretKind,
  SealedSecretsQuery,
  SessionRecord,
  SessionTokenRotation,
  SessionUpdate,
  Store,
  StoredSessionToken,
  WorkbenchFileRange,
  WorkbenchFileRecord,
  WorkbenchFileWrite,
} from './store/types.js';
export { ATTEMPT_EXPIRED_REASON, ATTEMPT_REPLACED_REASON } from './store/types.js';
export { WORKBENCH_FILE_RECORD_BYTES } from './store/workbench-pieces.js';
export type { ToolCall } from './tool-calls.js';
export { parseToolArguments, runToolCalls } from './tool-calls.js';
export type {
  AfterExecuteContext,
  BeforeExecuteContext,
  ModifySchemaContext,
  ToolModifiers,
} from './tool-modifiers.js';
export type {
  ListConnectedAccountsOptions,
  ListLogsOptions,
  SessionLogsOptions,
  SessionSummary,
  ToolExecuteRequest,
  ToolkitInfo,
  ToolMuxApi,
  ToolMuxOptions,
} from './toolmux.js';
export { ToolMux } from './toolmux.js';
export type { Logger } from './util/logger.js';
export type { RotationResult } from './vault/rotate.js';
export { DEFAULT_WORKBENCH, WORKBENCH_DESCRIPTION, type WorkbenchConfig } from './workbench/config.js';
export { WORKBENCH_FILES_QUOTA_BYTES } from './workbench/host.js';
export type { CellErrorCode, CellResult } from './workbench/sandbox.js';
export {
  WORKBENCH_IDLE_MS,
  WORKBENCH_MAX_CONTEXTS,
  WORKBENCH_MAX_OUTPUT_CHARS,
  WORKBENCH_MAX_TOOL_CALLS,
  type WorkbenchResult,
} from './workbench/workbench.js';
