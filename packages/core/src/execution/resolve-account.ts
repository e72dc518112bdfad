import { ToolMuxError } from '../errors.js';
import type { AccountRequest, ResolvedAccount } from './execute.js';

const NO_ACCOUNT: ResolvedAccount = Object.freeze({ accountId: null, credentials: undefined });

/**
 * Picks the connected account a call runs with. A toolkit without auth needs none. Connected
 * accounts and the precedence rules of ARCHITECTURE.md live in the auth module; until an account is
 * connected, a toolkit that needs one answers with CONNECTION_REQUIRED, naming the toolkit and the fix.
 */
export async function resolveAccount(request: AccountRequest): Promise<ResolvedAccount> {
  if (request.toolkit.noAuth) return NO_ACCOUNT;
  throw new ToolMuxError({
    code: 'CONNECTION_REQUIRED',
    message: `${request.toolkit.name} (${request.toolkit.slug}) needs a connected account for user "${request.userId}", and none is connected. Ask the user to connect ${request.toolkit.name}, then retry.`,
    details: { toolkit: request.toolkit.slug },
  });
}
