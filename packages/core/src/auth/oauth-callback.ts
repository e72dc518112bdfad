import { apiRefInEveryWording } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import type {
  ConnectedAccountChanges,
  ConnectedAccountRecord,
  ConnectionRequestRecord,
} from '../store/types.js';
import type { Vault } from '../vault/vault.js';
import { aliasTakenError } from './aliases.js';
import type { AuthRecords } from './auth-records.js';
import { browserMismatch, connectBindingCookieMatches } from './connect-binding.js';
import {
  accountLimitReached,
  accountsInLimit,
  freeAlias,
  reconnectAccount,
  revocationFailed,
  revokeReplacedTokens,
  revokeStoredTokens,
} from './connected-accounts.js';
import { requestStatusAt } from './connection-request.js';
import {
  clientChangedFailure,
  failConnectionAttempt,
  hashState,
  type OAuthRequestSecret,
  replacedByNewerAttempts,
  replacedRequestMessage,
} from './connection-requests.js';
import { clientRejectedText, type StoredCredentials } from './credentials.js';
import { AUTH_CONFIG_CHANGED, AUTH_CONFIG_REFUSED, exchangeCode, OAuthFailure } from './oauth.js';
import { oauth2SchemeOf } from './schemes.js';
import { retryingStoreErrors } from './store-retry.js';

/** How long an OAuth callback asks the store again to keep the tokens it got (see `retryingStoreErrors`). */
const CALLBACK_STORE_RETRY_MS = 10_000;

/**
 * The OAuth redirect target (`redirect_uri`), as a fetch handler any framework can mount. It checks
 * the state against the stored hash (unknown, used or expired: 400 with the code, nothing changed),
 * trades the code for tokens with the PKCE verifier, stores them encrypted, marks the account ACTIVE
 * (or FAILED with the provider's error) and redirects to the application's callbackUrl with
 * `status=success|failed&connected_account_id=ca_…`. Tokens it revokes (those a reconnect replaced,
 * those just issued that no account keeps) are revoked in the background (`records.revocations`):
 * the answer does not wait for the provider's revocation endpoint, whose outcome changes nothing of it.
 */
export async function handleOAuthCallback(records: AuthRecords, request: Request): Promise<Response> {
  const { store, vault, fetch, oauthRequestTimeoutMs, logger } = records.options;
  const wantsJson = (request.headers.get('accept') ?? '').includes('application/json');
  let parameters: URLSearchParams;
  try {
    parameters = new URL(request.url).searchParams;
  } catch {
    return callbackError(wantsJson, 'CONNECTION_REQUEST_INVALID', 'The callback URL is malformed.');
  }
  const state = parameters.get('state');
  if (!state) {
    return callbackError(
      wantsJson,
      'CONNECTION_REQUEST_INVALID',
      'The callback has no state parameter: start the connection again from the application.',
    );
  }
  const connection = await store.getConnectionRequestByStateHash(hashState(state));
  if (!connection) {
    return callbackError(
      wantsJson,
      'CONNECTION_REQUEST_INVALID',
      'The state of this callback matches no connection request: it was altered, the request was made by another toolmux, its account or auth config was deleted since it started, or it expired more than a day ago (expired requests are deleted then). Start the connection again from the application.',
    );
  }
  const requestSecret = openedRequestSecret(vault, connection);
  const boundBrowser = requestSecret?.browserBound === true;
  const fromBoundBrowser =
    boundBrowser && connectBindingCookieMatches(vault, connection.id, request.headers.get('cookie'));
  if (connection.usedAt) return usedCallback(connection, fromBoundBrowser, wantsJson);
  const now = new Date();
  if (connection.expiresAt <= now) return expiredCallback(connection, wantsJson);
  // A request made for the hosted connect page takes the code only from the browser that went through
  // the page's "Continue" (connection fixation: a copied provider URL opened by someone else). Refused
  // before the request is taken, so that its rightful user can still finish.
  if (boundBrowser && !fromBoundBrowser) {
    const refusal = browserMismatch(connection.id, 'callback');
    logger.warn(
      `toolmux: OAuth callback of ${connection.id} refused: it came from a browser that did not open its connect page (CONNECTION_BROWSER_MISMATCH).`,
    );
    return callbackError(wantsJson, 'CONNECTION_BROWSER_MISMATCH', refusal.message, 403);
  }
  if (!(await store.markConnectionRequestUsed(connection.id, now))) {
    // taken by another callback, or ended since it was read (newer attempts replaced it)
    const current = await store.getConnectionRequest(connection.id);
    if (current && current.usedAt === null && current.expiresAt <= now) {
      return expiredCallback(current, wantsJson);
    }
    return usedCallback(current ?? connection, fromBoundBrowser, wantsJson);
  }
  const accountId = connection.connectedAccountId!;
  const back = (status: 'success' | 'failed', error?: string) => backToApplication(connection, status, error);
  /** Set once this callback made the account ACTIVE with its tokens. */
  let activated = false;
  try {
    const config = await records.authConfig(connection.authConfigId);
    const toolkit = records.toolkit(config.toolkit);
    // opened once above; one that did not open fails here, as the exchange always did
    const secret = requestSecret ?? vault.openJson<OAuthRequestSecret>(connection.id, connection.secret!);
    const client = records.oauthClient(config, toolkit);
    const changed = clientChangedFailure(records, connection, secret, client.clientId);
    if (changed) throw changed;
    const tokens = await exchangeCode(oauth2SchemeOf(toolkit), client, parameters, {
      redirectUri: connection.redirectUri!,
      codeVerifier: secret.codeVerifier ?? undefined,
      fetch,
      timeoutMs: oauthRequestTimeoutMs,
    });
    const stored: StoredCredentials = { type: 'oauth2', ...tokens };
    const changes: ConnectedAccountChanges = {
      status: 'ACTIVE',
      statusReason: null,
      secret: vault.sealJson(accountId, stored),
      expiresAt: tokens.expiresAt === undefined ? null : new Date(tokens.expiresAt),
      refreshLeaseUntil: null,
      connectedAt: new Date(),
      // the alias the request was started under (the attempt held none): taken in the activation's step
      ...(connection.alias ? { alias: connection.alias } : {}),
    };
    /**
     * Revokes in the background the tokens just issued, which no account here keeps (see
     * `revokeStoredTokens`); what keeps it from trying (a secret key not configured) is logged alike.
     */
    const revokeIssued = (anyway: string) => {
      const account = { id: accountId, toolkit: config.toolkit };
      records.revocations.run(accountId, () =>
        revokeStoredTokens(records, account, config, stored, anyway).catch((error: unknown) =>
          revocationFailed(records, account, error, anyway),
        ),
      );
    };
    // A database that does not take the write just then (a failover, a network blip) is asked again
    // for a while: the provider has issued the tokens, and the user waits for this answer.
    const untilStored = retryingStoreErrors({
      deadline: Date.now() + CALLBACK_STORE_RETRY_MS,
      retrying: (error, wait) =>
        logger.warn(
          `toolmux: could not store the tokens of ${accountId} (connection request ${connection.id}): ${error.message}; trying again in ${wait} ms.`,
        ),
      givingUp: () => undefined, // the failure below is logged, and the tokens revoked
    });
    let updated: ConnectedAccountRecord | undefined;
    /** A reconnect's account as it was before it got the new tokens (its old ones are revoked below). */
    let replaced: ConnectedAccountRecord | undefined;
    try {
      updated = await untilStored(() =>
        secret.reconnect
          ? reconnectAccount(store, accountId, changes, (previous) => {
              replaced = previous;
            })
          : connection.maxAccounts || connection.alias
            ? activateWithinLimit(records, connection, connection.maxAccounts ?? null, changes, () =>
                revokeIssued('it is not kept'),
              )
            : store.updateConnectedAccount(accountId, changes),
      );
    } catch (error) {
      // no account holds the tokens just issued: they are revoked where the provider allows it
      if (ToolMuxError.isInstance(error) && error.code === 'STORE_ERROR') {
        revokeIssued('they could not be stored');
      }
      throw error;
    }
    if (!updated) {
      // deleted while the code was traded: the provider's new tokens belong to nothing here
      revokeIssued('the account was deleted');
      await store.finishConnectionRequest(connection.id, 'FAILED');
      return back('failed', 'account_deleted');
    }
    activated = true;
    // the tokens the account held before a reconnect belong to nothing now: revoked as a delete would,
    // in the background, from now on (also should recording the request's end below fail)
    if (replaced) {
      const previous = replaced;
      records.revocations.run(previous.id, () => revokeReplacedTokens(records, previous, config, stored));
    }
    await store.finishConnectionRequest(connection.id, 'COMPLETED');
    return back('success');
  } catch (error) {
    const failure =
      error instanceof OAuthFailure
        ? error.refusal === 'client_rejected'
          ? authConfigRefused(records, connection, error, parameters)
          : error
        : new OAuthFailure(
            'server_error',
            ToolMuxError.isInstance(error) ? error.message : 'the connection could not be completed',
          );
    if (failure !== error || failure.error === AUTH_CONFIG_CHANGED)
      logger.warn(`toolmux: OAuth callback of ${connection.id} failed: ${failure.description}`);
    if (activated) {
      // the account is connected (its tokens stored): only recording the request's end failed
      await store.finishConnectionRequest(connection.id, 'COMPLETED').catch(() => undefined);
      return back('success');
    }
    await failConnectionAttempt(store, connection, failure);
    return back('failed', failure.error);
  }
}

/** The redirect to the application's callbackUrl with how the connection ended. */
function backToApplication(
  connection: ConnectionRequestRecord,
  status: 'success' | 'failed',
  error?: string,
): Response {
  const url = new URL(connection.callbackUrl);
  url.searchParams.set('status', status);
  url.searchParams.set('connected_account_id', connection.connectedAccountId!);
  if (error) url.searchParams.set('error', error);
  return new Response(null, {
    status: 302,
    headers: { location: url.toString(), 'cache-control': 'no-store' },
  });
}

/**
 * The answer to a callback of a request already taken. Opened again after it connected the account
 * (the back button, a refresh, or a second tab that also pressed "Continue") in the browser that went
 * through the connect page, it leads back to the application as the first one did, having changed
 * nothing. Else (a request not bound to a browser, whose callback URL anyone may hold; another
 * browser; a request still being completed or that failed) `CONNECTION_REQUEST_INVALID`, saying how
 * the request stands: one still being completed (the same callback arrived twice at once, in one
 * instance or two) is not a reason to start again, which would only make the user sign in twice.
 */
function usedCallback(
  connection: ConnectionRequestRecord,
  fromBoundBrowser: boolean,
  wantsJson: boolean,
): Response {
  if (fromBoundBrowser && connection.status === 'COMPLETED') return backToApplication(connection, 'success');
  const used = `Connection request ${connection.id} was already used`;
  // taken and still within its time to complete (a completion that died past it is EXPIRED)
  const status = requestStatusAt(connection, new Date());
  const message =
    status === 'PENDING'
      ? `${used}: it is being completed by another arrival of this same callback (opened twice, or in two tabs). Go back to the application, which shows whether the account was connected; connect again from there only if it says it failed.`
      : status === 'COMPLETED'
        ? `${used}, and the account was connected with it. Go back to the application.`
        : `${used}, and that connection failed. Start a new connection from the application.`;
  return callbackError(wantsJson, 'CONNECTION_REQUEST_INVALID', message);
}

/**
 * The request's own secret (its PKCE verifier, and whether it was made for the hosted connect page with
 * the browser binding), opened once per callback; `undefined` when there is none or it does not open
 * (the exchange then fails the request, as it always did).
 */
function openedRequestSecret(
  vault: Vault,
  connection: ConnectionRequestRecord,
): OAuthRequestSecret | undefined {
  if (!connection.secret) return undefined;
  try {
    return vault.openJson<OAuthRequestSecret>(connection.id, connection.secret);
  } catch {
    return undefined;
  }
}

/**
 * The answer to a callback of an expired request: `CONNECTION_REQUEST_EXPIRED`, saying whether its 10
 * minutes ran out or newer attempts of the user replaced it.
 */
function expiredCallback(connection: ConnectionRequestRecord, wantsJson: boolean): Response {
  const next = 'start a new connection from the application.';
  const message = replacedByNewerAttempts(connection)
    ? replacedRequestMessage(connection, next)
    : `Connection request ${connection.id} expired at ${connection.expiresAt.toISOString()} (it works for 10 minutes). Start a new connection from the application.`;
  return callbackError(wantsJson, 'CONNECTION_REQUEST_EXPIRED', message);
}

/**
 * The failure of a callback whose provider refused the auth config's OAuth client (`invalid_client`,
 * `unauthorized_client`, a code of the scheme's `clientRejectedErrors`): `auth_config_invalid`, in the
 * words of a refused refresh, naming the auth config to fix and how (for the SDK and the REST API:
 * the text is stored as the account's `statusReason`), so that neither the application nor the user
 * takes it for the user's fault.
 */
function authConfigRefused(
  records: AuthRecords,
  connection: ConnectionRequestRecord,
  failure: OAuthFailure,
  parameters: URLSearchParams,
): OAuthFailure {
  const { authConfigId } = connection;
  return new OAuthFailure(
    AUTH_CONFIG_REFUSED,
    clientRejectedText({
      toolkitLabel: records.label(connection.toolkit),
      authConfigId,
      // the authorization endpoint refuses by redirecting with `error`; else the code exchange was refused
      refusedBy: parameters.has('error') ? 'authorization endpoint' : 'token endpoint',
      during: `when connecting ${connection.connectedAccountId} (connection request ${connection.id})`,
      failure,
      notAtFault: 'the user',
      fix: apiRefInEveryWording('authConfigs.update', { authConfigId }),
      afterFix: 'then the user connects again with a new link.',
    }),
  );
}

/**
 * Makes the request's account ACTIVE, with the request's alias (`changes.alias`), only while the user
 * has fewer than `maxAccounts` (null: no limit) ACTIVE or INACTIVE accounts of the toolkit (other
 * requests may have connected some since this one started) and no ACTIVE or INACTIVE account has the
 * alias; an account no call can use lets go of it. The store counts, moves the alias and writes in one
 * step. Refused, nothing changes but the new tokens, which are revoked, and an `account_limit_reached`
 * or `alias_taken` OAuthFailure fails the request.
 */
async function activateWithinLimit(
  records: AuthRecords,
  connection: ConnectionRequestRecord,
  maxAccounts: number | null,
  changes: ConnectedAccountChanges,
  /** Starts the revocation of the tokens just issued (in the background). */
  revoke: () => void,
): Promise<ConnectedAccountRecord | undefined> {
  const { store } = records.options;
  const accountId = connection.connectedAccountId!;
  const alias = changes.alias ?? null;
  try {
    if (store.activateConnectedAccount) {
      return await store.activateConnectedAccount(accountId, changes, maxAccounts);
    }
    // a store of your own without it: checked just before the update
    if (
      maxAccounts === null ||
      (await accountsInLimit(store, connection.userId, connection.toolkit, maxAccounts, accountId)) <
        maxAccounts
    ) {
      if (alias) {
        await freeAlias(store, connection.userId, connection.toolkit, alias, accountId);
      }
      return await store.updateConnectedAccount(accountId, changes);
    }
  } catch (error) {
    if (ToolMuxError.isInstance(error) && error.code === 'ALIAS_TAKEN' && alias) {
      // an account connected under the alias since this request started (its start checked it)
      revoke();
      const taken = aliasTakenError(alias, connection.toolkit);
      throw new OAuthFailure(
        'alias_taken',
        `${taken.message} This connection was not kept (its tokens were revoked where the provider allows it).`,
      );
    }
    if (!ToolMuxError.isInstance(error) || error.code !== 'ACCOUNT_LIMIT_REACHED') throw error;
  }
  revoke();
  const refused = accountLimitReached(
    connection.userId,
    records.label(connection.toolkit),
    connection.toolkit,
    maxAccounts ?? 0,
    ' This connection was not kept (its tokens were revoked where the provider allows it).',
  );
  throw new OAuthFailure('account_limit_reached', refused.message);
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character]!);
}

/** A rejected callback: 400 with the code, as JSON when asked for, else a small HTML page. */
function callbackError(
  json: boolean,
  code: 'CONNECTION_REQUEST_INVALID' | 'CONNECTION_REQUEST_EXPIRED' | 'CONNECTION_BROWSER_MISMATCH',
  message: string,
  status = 400,
): Response {
  const headers = {
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
  };
  if (json) return Response.json({ error: { code, message } }, { status, headers });
  const body =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Connection failed</title></head>' +
    `<body><h1>The connection could not be completed</h1><p>${escapeHtml(message)}</p><p><code>${code}</code></p></body></html>`;
  return new Response(body, {
    status,
    headers: {
      ...headers,
      'content-type': 'text/html; charset=utf-8',
      // the same protections as the hosted connect pages: no scripts, no framing, no sniffing
      'content-security-policy':
        "default-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
      'x-frame-options': 'DENY',
    },
  });
}
