import type { Session, ToolSpec } from '@toolmux/core';
import { toolSpecOf } from '@toolmux/core/internal';

/**
 * The tools `session.tools()` hands to its provider, as the provider receives them: shaped input
 * schemas (object root, local `$ref`s inlined), annotations and output schemas included. The REST
 * API and the MCP endpoint both describe a session's tools from these.
 */
export function exposedToolSpecs(session: Session<unknown>): ToolSpec[] {
  return session.exposedTools().map(toolSpecOf);
}
