import { setTimeout as sleep } from 'node:timers/promises';
import type { Credentials, OAuth2Scheme } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import { readerError, reconnectWay } from '../meta-tools/hints.js';
import type { ConnectedAccountRecord, Store } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import type { Vault } from '../vault/vault.js';
import { type OAuthClient, OAuthFailure, refreshTokens, type TokenSet } from './oauth.js';

/** A token that expires within this window is refreshed before a call uses it. */
export const REFRESH_WINDOW_MS = 60_000;
/** How long one process may hold an account's refresh (longer than a token request may take). */
const LEASE_MS = 45_000;
/** How often a process waiting for another one's refresh looks at the store. */
const LEASE_POLL_MS = 100;

/** An account's credentials as the vault holds them (JSON, encrypted). */
export type StoredCredentials =
  | ({ type: 'oauth2' } & TokenSet)
  | { type: 'api_key' | 'bearer' | 'basic'; fields: Record<string, string> };

export interface CredentialLoaderOptions {
  store: Store;
  vault: Vault;
  fetch: typeof globalThis.fetch;
  logger: Logger;
  /** The OAuth scheme and client of an auth config. */
  oauthOf: (authConfigId: string) => Promise<{ scheme: OAuth2Scheme; client: OAuthClient }>;
  /** `Gmail (gmail)` for messages. */
  toolkitLabel: (slug: string) => string;
}

function needsRefresh(expiresAt: Date | null): boolean {
  return expiresAt !== null && expiresAt.getTime() - Date.now() < REFRESH_WINDOW_MS;
}

/**
 * CONNECTION_EXPIRED for an account the user must connect again; its message names the way to a new
 * connection its reader has (see `forReader`).
 */
export function connectionExpiredError(
  toolkitLabel: string,
  accountId: string,
  reason: string | null,
  toolkit: string,
  /** The account's alias: the new connection is made under it (it is free for one now). */
  alias?: string | null,
): ToolMuxError {
  const named = alias ? `"${alias}" (${accountId})` : `(${accountId})`;
  return readerError(
    (reader) =>
      new ToolMuxError({
        code: 'CONNECTION_EXPIRED',
        message:
          `The ${toolkitLabel} connection ${named} has expired or was revoked${reason ? ` (${reason})` : ''}. ` +
          `Ask the user to reconnect ${toolkitLabel}: ${reconnectWay(toolkit, reader, alias ?? undefined)}. Then retry.`,
        details: { connectedAccountId: accountId },
      }),
  );
}

/** The credential values to mask: token type, scope and expiry are not secrets (masking them would blank words like "bearer"). */
export function credentialSecrets(credentials: Credentials): string[] {
  return Object.entries(credentials)
    .filter(([name]) => name !== 'tokenType' && name !== 'scope' && name !== 'expiresAt')
    .map(([, value]) => value);
}

/**
 * Decrypts an account's credentials for a call and keeps OAuth tokens fresh. A token that expires
 * within a minute is refreshed first, once per account however many calls need it:
 *
 * - in this process, concurrent callers share one refresh promise per account (single-flight);
 * - across processes on one store, a refresh starts only after `acquireRefreshLease` won a
 *   conditional update (version + lease time) of the account row; the others wait for the lease
 *   holder's new token, and take over only if its lease runs out.
 *
 * So a refresh token is spent once. `invalid_grant` marks the account EXPIRED.
 */
export class CredentialLoader {
  readonly #options: CredentialLoaderOptions;
  readonly #inFlight = new Map<string, Promise<ConnectedAccountRecord>>();

  constructor(options: CredentialLoaderOptions) {
    this.#options = options;
  }

  /** `ctx.credentials` for a call with this (ACTIVE) account. */
  async load(account: ConnectedAccountRecord): Promise<Credentials> {
    const { vault, logger, toolkitLabel } = this.#options;
    let current = account;
    let stored = this.#open(current);
    if (stored.type !== 'oauth2') return { ...stored.fields };
    if (needsRefresh(current.expiresAt)) {
      if (stored.refreshToken) {
        try {
          current = await this.refresh(current.id);
          stored = vault.openJson<StoredCredentials>(current.id, current.secret!);
        } catch (error) {
          const stillValid = current.expiresAt !== null && current.expiresAt.getTime() > Date.now();
          if (!stillValid || !ToolMuxError.isInstance(error) || error.code !== 'OAUTH_ERROR') throw error;
          logger.warn(`toolmux: ${error.message} Using the current token until it expires.`);
        }
      } else if (current.expiresAt!.getTime() <= Date.now()) {
        const reason = 'the access token expired and the provider gave no refresh token';
        await this.#options.store.updateConnectedAccount(current.id, {
          status: 'EXPIRED',
          statusReason: reason,
        });
        throw connectionExpiredError(
          toolkitLabel(current.toolkit),
          current.id,
          reason,
          current.toolkit,
          current.alias,
        );
      }
    }
    if (stored.type !== 'oauth2') return { ...stored.fields };
    return {
      accessToken: stored.accessToken,
      tokenType: stored.tokenType,
      ...(stored.scope ? { scope: stored.scope } : {}),
      ...(current.expiresAt ? { expiresAt: current.expiresAt.toISOString() } : {}),
    };
  }

  /**
   * Refreshes an account's OAuth token (even a fresh one with `force`), or waits for the refresh
   * another caller or process is doing. Resolves with the updated account.
   */
  refresh(
    accountId: string,
    options: {
      force?: boolean;
      /** Refresh only while this is still the stored access token (it was refused): else it was renewed already. */
      replacing?: string;
    } = {},
  ): Promise<ConnectedAccountRecord> {
    let pending = this.#inFlight.get(accountId);
    if (!pending) {
      pending = this.#refresh(accountId, options.force === true, options.replacing).finally(() =>
        this.#inFlight.delete(accountId),
      );
      this.#inFlight.set(accountId, pending);
    }
    return pending;
  }

  #accessTokenOf(account: ConnectedAccountRecord): string | undefined {
    const stored = account.secret ? this.#open(account) : undefined;
    return stored?.type === 'oauth2' ? stored.accessToken : undefined;
  }

  /** True for an OAuth account that holds a refresh token. */
  canRefresh(account: ConnectedAccountRecord): boolean {
    if (!account.secret) return false;
    const stored = this.#open(account);
    return stored.type === 'oauth2' && Boolean(stored.refreshToken);
  }

  #open(account: ConnectedAccountRecord): StoredCredentials {
    if (!account.secret) {
      throw new ToolMuxError({
        code: 'CONNECTION_REQUIRED',
        message: `Connected account ${account.id} has no credentials (status ${account.status}); connect it again.`,
      });
    }
    return this.#options.vault.openJson<StoredCredentials>(account.id, account.secret);
  }

  async #refresh(accountId: string, force: boolean, replacing?: string): Promise<ConnectedAccountRecord> {
    const { store, toolkitLabel } = this.#options;
    const started = Date.now();
    let waitedForAnother = false;
    for (;;) {
      const account = await store.getConnectedAccount(accountId);
      if (!account) {
        throw new ToolMuxError({
          code: 'CONNECTED_ACCOUNT_NOT_FOUND',
          message: `Connected account ${accountId} was deleted.`,
        });
      }
      if (account.status !== 'ACTIVE') {
        throw connectionExpiredError(
          toolkitLabel(account.toolkit),
          account.id,
          account.statusReason,
          account.toolkit,
          account.alias,
        );
      }
      if (!force && !needsRefresh(account.expiresAt)) return account; // another process refreshed it
      if (replacing !== undefined && this.#accessTokenOf(account) !== replacing) return account; // renewed already
      const now = new Date();
      if (account.refreshLeaseUntil && account.refreshLeaseUntil > now) {
        if (Date.now() - started > 2 * LEASE_MS) {
          throw new ToolMuxError({
            code: 'OAUTH_ERROR',
            message: `Refreshing the ${toolkitLabel(account.toolkit)} token of ${account.id} took too long in another process; try again.`,
          });
        }
        waitedForAnother = true;
        await sleep(LEASE_POLL_MS);
        continue;
      }
      if (force && waitedForAnother) return account; // the refresh we waited for is the one asked for
      const leased = await store.acquireRefreshLease(
        account.id,
        account.version,
        new Date(now.getTime() + LEASE_MS),
        now,
      );
      if (leased) return this.#spendRefreshToken(leased);
      // the row changed between the read and the lease: look again
    }
  }

  /** Holding the lease: trades the refresh token, stores the new tokens, releases the lease. */
  async #spendRefreshToken(account: ConnectedAccountRecord): Promise<ConnectedAccountRecord> {
    const { store, vault, fetch, oauthOf, toolkitLabel } = this.#options;
    const label = toolkitLabel(account.toolkit);
    const release = () =>
      store.updateConnectedAccount(account.id, { refreshLeaseUntil: null }, account.version);
    let stored: StoredCredentials;
    let tokens: TokenSet;
    try {
      stored = this.#open(account);
      if (stored.type !== 'oauth2' || !stored.refreshToken) {
        throw new ToolMuxError({
          code: 'INVALID_REQUEST',
          message: `Connected account ${account.id} has no OAuth refresh token to refresh with.`,
        });
      }
      const { scheme, client } = await oauthOf(account.authConfigId);
      tokens = await refreshTokens(scheme, client, stored.refreshToken, fetch);
    } catch (error) {
      if (error instanceof OAuthFailure && error.error === 'invalid_grant') {
        const reason = `${error.error}: ${error.description}`;
        await store.updateConnectedAccount(
          account.id,
          { status: 'EXPIRED', statusReason: reason, refreshLeaseUntil: null },
          account.version,
        );
        throw connectionExpiredError(label, account.id, reason, account.toolkit, account.alias);
      }
      await release().catch(() => undefined);
      if (ToolMuxError.isInstance(error)) throw error;
      const said = error instanceof OAuthFailure ? error.message : 'the token request failed';
      throw new ToolMuxError({
        code: 'OAUTH_ERROR',
        message: `Refreshing the ${label} token of ${account.id} failed (${said}). Try again in a moment.`,
        details: { connectedAccountId: account.id },
      });
    }
    const next: StoredCredentials = {
      ...stored,
      ...tokens,
      refreshToken: tokens.refreshToken ?? stored.refreshToken,
      ...((tokens.scope ?? stored.scope) ? { scope: tokens.scope ?? stored.scope } : {}),
    };
    const changes = {
      secret: vault.sealJson(account.id, next),
      expiresAt: tokens.expiresAt === undefined ? null : new Date(tokens.expiresAt),
      refreshLeaseUntil: null,
    };
    // The lease makes the conditional write succeed; should it have run out meanwhile, the new tokens
    // are still the ones to keep (a rotated refresh token is the only valid one now).
    const updated =
      (await store.updateConnectedAccount(account.id, changes, account.version)) ??
      (await store.updateConnectedAccount(account.id, changes));
    if (!updated) {
      throw new ToolMuxError({
        code: 'CONNECTED_ACCOUNT_NOT_FOUND',
        message: `Connected account ${account.id} was deleted while its token was refreshed.`,
      });
    }
    return updated;
  }
}
