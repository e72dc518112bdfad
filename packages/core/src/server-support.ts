import type { ToolCallListener } from './embedded-toolmux.js';
import type { Provider } from './provider.js';
import type { Store } from './store/types.js';
import { embeddedEngineOf, type ToolMux } from './toolmux.js';

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
 * (toolkit, slug, status, duration; payloads already redacted). Returns a function that unsubscribes.
 */
export function onToolCall(mux: ToolMux<Provider<unknown>>, listener: ToolCallListener): () => void {
  return embeddedEngineOf(mux, 'Tool call listeners').onToolCall(listener);
}

export type { ToolCallListener };
