import type { Provider, Session, SessionConfig, ToolMux } from '@toolmux/core';
import { ToolMuxError } from '@toolmux/core';

/**
 * How many times a PATCH that names no version is applied to the session as it is now before it
 * fails: each round, one of the updates racing for a version wins, so this many in a row are as many
 * updates of one session at the same moment.
 */
const UPDATE_ATTEMPTS = 64;

/**
 * Applies a PATCH of a session that names no expected version: the changes `changesOf` makes from the
 * session as it is now, written as `session.update()` writes them (a compare-and-set on its version).
 * When another update won the race between the read and the write (`SESSION_VERSION_CONFLICT`), the
 * session is read again and the PATCH applied to that, so PATCHes sent at once all apply, each to
 * what the others left, instead of all but one answering 409 (a client that wants its update refused
 * after another one gives `expected_version`). Resolves with the updated session.
 */
export async function updateLatest(
  toolmux: ToolMux<Provider<unknown>>,
  sessionId: string,
  changesOf: (session: Session<unknown>) => SessionConfig,
): Promise<Session<unknown>> {
  for (let attempt = 1; ; attempt++) {
    const session = await toolmux.use(sessionId);
    try {
      await session.update(changesOf(session));
      return session;
    } catch (error) {
      const raced = ToolMuxError.isInstance(error) && error.code === 'SESSION_VERSION_CONFLICT';
      if (!raced || attempt >= UPDATE_ATTEMPTS) throw error;
    }
  }
}
