/**
 * Building blocks for toolmux's own packages (server, providers, toolkits, benchmarks). Not part of
 * the stable public API: names here may change in a minor release.
 */

export type { ApiOperation, ErrorAudience, InputNames } from './api-refs.js';
export { apiRef, renderApiRefs } from './api-refs.js';
export { CONNECTION_REQUEST_TTL_MS } from './auth/connection-requests.js';
export {
  ConnectionWaitScope,
  checkConnectionsWaitTimeout,
  waitResultJson,
} from './auth/connection-waiter.js';
export {
  connectionRequestAuthorizationUrl,
  connectPageCookie,
  continueConnectionRequest,
  useHostedConnectPage,
} from './auth/hosted-connect-page.js';
export { DEFAULT_OAUTH_REQUEST_TIMEOUT_MS, MAX_OAUTH_REQUEST_TIMEOUT_MS } from './auth/oauth.js';
export { Catalog, searchDocumentOf } from './catalog/catalog.js';
export type { ToolDeclaration, ToolkitDeclaration } from './catalog/declarations.js';
export {
  declarationOf,
  declaredTool,
  declaredToolkit,
  declaredToolkitsSliced,
  declaredToolsSliced,
} from './catalog/declarations.js';
export { checkToolkitSlug, lowerCaseSlug } from './catalog/define.js';
export { exposedMetaToolKinds, SESSION_CONFIG_BOUNDS } from './config/session-config.js';
export { sessionSummaryOf } from './embedded-toolmux.js';
export { MAX_QUOTED_CHARS, quotedMessage, quotedText } from './errors.js';
export { drainStoppedWarning } from './execution/calls-in-flight.js';
export { MAX_LOG_RETENTION_DAYS } from './execution/log-retention.js';
export {
  type McpTextToolResult,
  mcpOutputSchemaOf,
  mcpToolResultOf,
  type OutputValidator,
} from './execution/mcp-result.js';
export {
  ALL_META_TOOL_SLUGS,
  CELL_CALL_HOOKS,
  META_TOOLKIT,
  META_TOOLS,
  type MetaToolKind,
  type MultiExecuteOptions,
  metaToolKind,
  metaToolSlugs,
  metaToolsOf,
  renameMetaTools,
} from './meta-tools/meta-tools.js';
export { shapeInputSchema } from './schema/shape.js';
export { toStrictSchema } from './schema/strict.js';
export { compileJsonSchemaValidator, compileValidatorNow, slicedValidatorOf } from './schema/validate.js';
export { DEFAULT_SAME_ACTIONS, DEFAULT_SYNONYMS, RECENCY_WORDS } from './search/synonyms.js';
export type {
  EmbedFunction,
  FieldScoring,
  RankingParameters,
  SearchDocument,
  SearchField,
  ToolIndexOptions,
  ToolSearchOptions,
  ToolSearchResult,
} from './search/tool-index.js';
export { DEFAULT_RANKING, ToolIndex } from './search/tool-index.js';
export type { DrainTime, SessionTokenCheck, ToolCallListener } from './server-support.js';
export {
  checkSessionToken,
  closeAfterDrain,
  deletedSessionOf,
  executeToolFor,
  muxListenerCounts,
  onSessionUpdated,
  onToolCall,
  openToolMuxStore,
} from './server-support.js';
export {
  catalogToolSpecs,
  deletedSessionLogsError,
  EmbeddedSession,
  embeddedSession,
  exposedToolSpecs,
  toolSpecOf,
} from './session.js';
export { MIGRATION_CHANNEL, type MigrationEvent } from './store/migration-events.js';
export type { AppliedMigration } from './store/migrations.js';
export { LATEST_MIGRATION_VERSION, pendingMigrations } from './store/migrations.js';
export type { StoreSpec } from './store/open-store.js';
export { DEFAULT_STORE_SPEC, openStore, openStoreToRead, parseStoreSpec } from './store/open-store.js';
export { assertPageQuery, MAX_PAGE_LIMIT } from './store/pagination.js';
export { postgresSpecProblem, shownStoreSpec } from './store/store-spec-text.js';
export { stoppedByToolmux, withDeadline } from './util/abort.js';
export { argumentPath, pathUnder } from './util/argument-path.js';
export { editDistance, editDistanceWithin } from './util/edit-distance.js';
export { idBefore, newId } from './util/ids.js';
export { jsonDepthExceeds, MAX_JSON_DEPTH } from './util/json-depth.js';
export type { Slice } from './util/json-slices.js';
export {
  JSON_CHUNK_CHARS,
  JsonShapeWalk,
  JsonTextError,
  JsonTextParser,
  JsonWriter,
  jsonShapeSliced,
  jsonTextPiecesSliced,
  jsonTextSliced,
  MAX_OBJECT_KEYS,
  PlainClone,
  parseJsonSliced,
  SLICED_PARSE_FROM,
  StringPieces,
  stringifyJsonSliced,
} from './util/json-slices.js';
export { createFileOnce, makeDirectories, readOrCreateKeyFile } from './util/key-file.js';
export { maskedResult } from './util/masked-result.js';
export {
  checkedProviderOptions,
  checkOptionNames,
  everyKeyOf,
  type OptionKind,
  PORTABLE_PROVIDER_OPTION_KINDS,
  PROVIDER_OPTION_KINDS,
  setupOptions,
} from './util/option-kinds.js';
export { isPlainObject, setOwn } from './util/own-key.js';
export { decodeSlugCursor } from './util/pagination.js';
export {
  MAX_LOG_ERROR_CODE_LENGTH,
  MAX_LOG_TEXT_LENGTH,
  maskSecrets,
  secretForms,
} from './util/redact.js';
export { byteSize, responseTextUpTo } from './util/response-text.js';
export { deriveSessionToken, hashToken, parseSecretKey, tokenMatches } from './util/secret-key.js';
export { SLICE_MS, WorkSlice, yieldToEventLoop } from './util/slices.js';
export type { TextRule } from './util/stored-text.js';
export {
  checkId,
  checkText,
  checkUserId,
  leadingText,
  MAX_ID_LENGTH,
  quotedString,
  shownValue,
  shownValueUpTo,
  textProblem,
} from './util/stored-text.js';
export type { WholeNumberRule } from './util/whole-number.js';
export { MAX_TIMER_MS, wholeNumberOf } from './util/whole-number.js';
export { describeZodIssue } from './util/zod-issues.js';
export { type ProtoKeyParse, safeParseKeepingProtoKeys, type ZodInternals } from './util/zod-proto-keys.js';
export {
  type RotationFailure,
  type RotationResult,
  rotateSecretsReporting,
} from './vault/rotate-reporting.js';
