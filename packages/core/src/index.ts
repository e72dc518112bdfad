export { ToolMux } from './toolmux.js';
export type { ToolMuxOptions, ToolkitInfo, SessionSummary } from './toolmux.js';
export { Session } from './session.js';
export type { SessionToolkit, SearchToolsResult, ExecutionLog } from './session.js';
export { SessionPreset } from './config/session-config.js';
export type {
  SessionConfig,
  NormalizedSessionConfig,
  SlugFilter,
  TagFilter,
  ToolFilter,
} from './config/session-config.js';
export { defineTool, defineToolkit } from './catalog/define.js';
export type { DefineToolOptions, DefineToolkitOptions } from './catalog/define.js';
export { TOOL_TAGS } from './catalog/types.js';
export type {
  AuthField,
  AuthScheme,
  Credentials,
  JSONSchema,
  Tool,
  ToolAnnotations,
  ToolContext,
  Toolkit,
  ToolTag,
} from './catalog/types.js';
export { ToolMuxError, TOOLMUX_ERROR_CODES } from './errors.js';
export type { ToolMuxErrorCode } from './errors.js';
export { PlainProvider } from './provider.js';
export type { CollectionOf, ExecuteFn, ExecuteOptions, PlainTool, Provider, ToolSpec } from './provider.js';
export { formatToolResultForModel } from './execution/result.js';
export type { ToolResult } from './execution/result.js';
export { MetaToolSlug } from './meta-tools/meta-tools.js';
export { strictSchemaOf } from './schema/strict-spec.js';
export type { Store, ExecutionLogRecord, SessionRecord, Page } from './store/types.js';
export type { Logger } from './util/logger.js';
