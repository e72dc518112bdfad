import { ToolMuxError } from '../errors.js';
import { checkText, shownValue } from '../util/stored-text.js';

/** The longest alias a connected account may have. */
export const MAX_ALIAS_LENGTH = 64;

/**
 * An alias from outside (`authorize(toolkit, { alias })`, `connectedAccounts.create/update`): 1 to 64
 * characters of well-formed text without control characters, not blank, and not shaped like an
 * account id (`ca_…`), since `account` takes either. INVALID_REQUEST otherwise.
 */
export function checkAlias(alias: unknown, field = 'alias'): string {
  const fix = `an alias is 1 to ${MAX_ALIAS_LENGTH} characters without control characters that names the account for the user and the agent, e.g. "work"`;
  checkText(alias, { field, code: 'INVALID_REQUEST', maxLength: MAX_ALIAS_LENGTH, fix });
  const text = alias as string;
  if (text.trim() === '' || text.trim() !== text || text.startsWith('ca_')) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `${field} ${shownValue(text)} ${text.startsWith('ca_') ? 'looks like an account id' : 'is blank or starts or ends with spaces'}: ${fix}.`,
      details: { field },
    });
  }
  return text;
}

/** ALIAS_TAKEN naming the alias (the store's own error cannot name it). */
export function aliasTakenError(alias: string, toolkit: string, holder?: string): ToolMuxError {
  return new ToolMuxError({
    code: 'ALIAS_TAKEN',
    message: `The user already has another ${toolkit} account with alias ${shownValue(alias)}${holder ? ` (${holder})` : ''}; aliases are unique per user and toolkit. Choose another alias, or rename or delete that account first.`,
    details: { alias, toolkit, ...(holder ? { connectedAccountId: holder } : {}) },
  });
}

/** Runs a store write, turning the store's ALIAS_TAKEN (a concurrent claim of the alias) into one naming it. */
export async function claimingAlias<T>(
  alias: string | null | undefined,
  toolkit: string,
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (alias && ToolMuxError.isInstance(error) && error.code === 'ALIAS_TAKEN') {
      throw aliasTakenError(alias, toolkit);
    }
    throw error;
  }
}
