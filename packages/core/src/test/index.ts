export { pingToolkit, startSizedApi, unreachableApiToolkit } from './api-toolkits.js';
export {
  AWKWARD_KEY_ARGUMENTS,
  argumentsAsShown,
  awkwardKeysTool,
  portableKeyViolations,
} from './awkward-keys.js';
export { editDistanceByTable } from './edit-distance-table.js';
export { gateToolkit } from './gate-tool.js';
export { findGeminiViolations, geminiSchemaAsJsonSchema } from './gemini-invariants.js';
export type { HardSchemaCase } from './hard-schemas.js';
export {
  hardSchemaCall,
  hardSchemaCases,
  hardSchemaToolkit,
  notStrictReasonPattern,
  unionItemsSchema,
} from './hard-schemas.js';
export type { HostileThrow } from './hostile-throws.js';
export {
  HOSTILE_RESULTS,
  HOSTILE_THROWS,
  HUGE_THROWN_MESSAGE_CHARS,
  hostileThrowsToolkit,
} from './hostile-throws.js';
export type { LongestTurn } from './longest-turn.js';
export { longestTick, longestTurn, turnReport } from './longest-turn.js';
export { draft2020Violations, olderDraftToolkit } from './older-drafts.js';
export type { OpenAIScriptedCall } from './openai-wire.js';
export {
  expectOpenAISafeSchemas,
  findOpenAIRefusals,
  openaiRefusedSchemaToolkit,
  openaiReply,
  openaiToolParameters,
  openaiToolResults,
} from './openai-wire.js';
export type { OpenApiToolCall, OpenApiToolkitOptions, OperationInfo } from './openapi-tools.js';
export { CORPUS_TEST_TIMEOUT_MS, toolkitFromOpenApi } from './openapi-tools.js';
export { freePort } from './ports.js';
export type { OpenLogReader, PostgresProxy, TestPostgresStore } from './postgres.js';
export {
  buildPostgresSchemaAt,
  createTestPostgresStore,
  createTestPostgresUrl,
  openLogReader,
  postgresAvailable,
  postgresProcessesCpu,
  postgresSkipReason,
  startPostgresProxy,
  testPostgresUrl,
  withTestDatabase,
} from './postgres.js';
export { recordingLogger } from './recording-logger.js';
export type { RecordedCall } from './sample-toolkits.js';
export { createGmailLikeToolkit, createSampleToolkits } from './sample-toolkits.js';
export type { SchemaViolationOptions } from './schema-invariants.js';
export { countOptionalEnumFields, findSchemaViolations } from './schema-invariants.js';
export type { ScriptedModelServer, ScriptedReply, ScriptedRequest } from './scripted-model-server.js';
export { startScriptedModelServer } from './scripted-model-server.js';
export type { StockLookupCall } from './stock-lookup.js';
export { stockLookupTool } from './stock-lookup.js';
export { turnsDuring } from './turns.js';
export { untilTestTimeout } from './until-test-timeout.js';
export { type NumberKeys, notWholeNumberWithin } from './whole-numbers.js';
export type { WorkbenchCellCase } from './workbench-cells.js';
export {
  expectCellAnswer,
  expectCellOutputs,
  WORKBENCH_CELL_CASES,
  workbenchCellCalls,
} from './workbench-cells.js';
export { badZodValues, ZOD_DEFAULTS } from './zod-bad-values.js';
