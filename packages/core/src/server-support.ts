import type { ErrorAudience } from './api-refs.js';
import type { SessionTokenCheck, ToolCallListener } from './embedded-toolmux.js';
import type { DrainTime } from './execution/calls-in-flight.js';
import type { ToolResult } from './execution/result.js';
import { META_TOOLKIT } from './meta-tools/meta-tools.js';
import type { Provider } from './provider.js';
import type { EmbeddedSession } from './session.js';
import type { ExecutionLogRecord, Store } from './store/types.js';
import { embeddedEngineOf, type ToolMux } from './toolmux.js';
import type { ToolExecuteRequest } from './toolmux-types.js';

/**
 * What @toolmux/server needs to run a ToolMux for operators (fail-fast start, readiness, metrics),
 * beyond the public API (exported from `@toolmux/core/internal`).
 */

/**
 * Opens and migrates the store and loads the secret key now, instead of on the first call: the
 * store's or the key's ToolMuxError (`STORE_CONFIG_INVALID`, `STORE_ERROR`, `SECRET_KEY_INVALID`)
 * surfaces here. Resolves with the open store (for readiness pings).
 */
export function openToolMuxStore(mux: ToolMux<Provider<unknown>>): Promise<Store> {
  return embeddedEngineOf(mux, 'Opening the store').openStore();
}

/**
 * Calls `listener` with the execution log entry of every tool call the ToolMux answers from now on
 * (toolkit, slug, status, duration; payloads already redacted), and the toolkit to count it under:
 * `unknown` for a call that reached no tool (an unknown slug, a tool the session does not have: its
 * entry names no toolkit); the entry's if the catalog has it (meta-tools: `toolmux`); else `custom`
 * — a session's own toolkits and what a remote-mode client names in its uploaded entries are many
 * and chosen by callers, so a metric labelled by them would grow a series per name. Returns the
 * unsubscribe.
 */
export function onToolCall(
  mux: ToolMux<Provider<unknown>>,
  listener: (record: Readonly<ExecutionLogRecord>, toolkit: string) => void,
): () => void {
  const engine = embeddedEngineOf(mux, 'Tool call listeners');
  const catalog = engine.catalog;
  return engine.onToolCall((record) =>
    listener(
      record,
      record.toolkit === ''
        ? 'unknown'
        : record.toolkit === META_TOOLKIT.slug || catalog.toolkits.has(record.toolkit)
          ? record.toolkit
          : 'custom',
    ),
  );
}

/**
 * Calls `listener` with the id of every session whose config an `update()` of this ToolMux (in this
 * process) stores from now on (the server's session cache drops its entry at once; another
 * instance's update is not seen here). Returns the unsubscribe.
 */
export function onSessionUpdated(
  mux: ToolMux<Provider<unknown>>,
  listener: (sessionId: string) => void,
): () => void {
  return embeddedEngineOf(mux, 'Session update listeners').onSessionUpdated(listener);
}

/**
 * How many `onToolCall` and `onSessionUpdated` listeners are subscribed to the ToolMux now: a server
 * holds them only while it may use them (its tests check that closed servers hold none).
 */
export function muxListenerCounts(mux: ToolMux<Provider<unknown>>): {
  toolCalls: number;
  sessionUpdates: number;
} {
  return embeddedEngineOf(mux, 'Listener counts').listenerCounts();
}

/**
 * `mux.close({ timeoutMs: 0 })` once a server's shutdown drain has given the calls in flight their
 * time (`drain`: `toolmux serve`'s `shutdownTimeoutMs`, and how long it was): the calls still running
 * are stopped at once, and the warning naming them says which setting to raise, and by how long they
 * ran, instead of `close({ timeoutMs })` and 0 ms.
 */
export function closeAfterDrain(mux: ToolMux<Provider<unknown>>, drain: DrainTime): Promise<void> {
  return embeddedEngineOf(mux, 'Closing after a drain').closeAfterDrain(drain);
}

export type { DrainTime };

/**
 * Checks a session's MCP token before anything else of the session is read or built (see
 * `EmbeddedToolMux.checkSessionToken`): `valid` (with the stored token hash), `unknown` (the token of
 * a session that no longer exists), or `invalid` (any other token, whether the session exists or not).
 */
export function checkSessionToken(
  mux: ToolMux<Provider<unknown>>,
  sessionId: string,
  token: string,
): Promise<SessionTokenCheck> {
  return embeddedEngineOf(mux, 'Checking a session token').checkSessionToken(sessionId, token);
}

export type { SessionTokenCheck, ToolCallListener };

/**
 * The session `sessionId` named before it was deleted, to take the log entries a remote client
 * uploads for it afterwards (see `EmbeddedToolMux.deletedSession`); undefined when the id names a
 * session, or never named one that left an entry in the log.
 */
export function deletedSessionOf(
  mux: ToolMux<Provider<unknown>>,
  sessionId: string,
): Promise<EmbeddedSession<unknown> | undefined> {
  return embeddedEngineOf(mux, 'Log uploads of a deleted session').deletedSession(sessionId);
}

/**
 * `mux.tools.execute()` whose failed results name operations and fields in the words of `audience`
 * (the server's `POST /api/v1/tools/execute` answers an HTTP client in the REST API's).
 */
export function executeToolFor(
  mux: ToolMux<Provider<unknown>>,
  audience: ErrorAudience,
  slug: string,
  request: ToolExecuteRequest,
): Promise<ToolResult> {
  return embeddedEngineOf(mux, 'Running a tool for a REST client').executeToolFor(audience, slug, request);
}
