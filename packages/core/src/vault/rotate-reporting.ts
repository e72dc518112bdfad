import type { Provider } from '../provider.js';
import { embeddedEngineOf, type ToolMux } from '../toolmux.js';
import type { RotationFailure, RotationResult } from './rotate.js';

export type { RotationFailure, RotationResult } from './rotate.js';

/**
 * `mux.vault.rotate()` for `toolmux keys rotate` (exported from `@toolmux/core/internal`): a record
 * that does not decrypt with any configured key is passed to `onFailure` and left as it is, and the
 * rotation goes on with the others.
 */
export function rotateSecretsReporting(
  mux: ToolMux<Provider<unknown>>,
  options: { batchSize?: number; onFailure: (failure: RotationFailure) => void },
): Promise<RotationResult> {
  return embeddedEngineOf(mux, 'Rotating the secret key').rotateSecretsReporting(options);
}
