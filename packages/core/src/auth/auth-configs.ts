import { apiRef } from '../api-refs.js';
import type { Toolkit } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import type { AuthConfigRecord, ConnectedAccountRecord } from '../store/types.js';
import { forEachAtMost } from '../util/at-most.js';
import { newId } from '../util/ids.js';
import { checkOptionNames, everyKeyOf } from '../util/option-kinds.js';
import { checkId, checkText, shownValue, textProblem } from '../util/stored-text.js';
import {
  AUTH_CONFIG_UPDATE_FIELDS,
  authConfigField,
  authConfigFields,
  checkAuthConfigCreateFields,
  checkAuthConfigType,
  givenAuthConfigChanges,
} from './auth-config-changes.js';
import { type AuthRecords, publicAuthConfig } from './auth-records.js';
import { type ConnectedAccounts, revocationFailed } from './connected-accounts.js';
import { credentialOnlySchemeOf, oauth2SchemeOf, schemeList, schemeOf } from './schemes.js';
import type {
  AuthConfig,
  CreateAuthConfigOptions,
  ManagedAuthCredentials,
  UpdateAuthConfigOptions,
} from './types.js';

const invalid = (message: string) => new ToolMuxError({ code: 'AUTH_CONFIG_INVALID', message });

/** An auth config's `name` (create and update): free text up to 200 characters, may be empty. */
function checkName(name: unknown): void {
  if (name === undefined) return;
  if (typeof name !== 'string') throw invalid('name must be a string.');
  checkText(name, {
    field: 'name',
    code: 'AUTH_CONFIG_INVALID',
    maxLength: 200,
    allowEmpty: true,
    freeText: true,
  });
}

/** The longest client secret an auth config takes (a JWT client secret is a few hundred characters). */
const MAX_CLIENT_SECRET_LENGTH = 4096;
/** The most scopes an auth config asks for. */
const MAX_SCOPES = 1_000;

/**
 * The OAuth client fields of an oauth2 auth config that are given (create and update). A client
 * secret is printable text (RFC 6749 allows printable ASCII): a lone surrogate cannot be
 * form-encoded into a token request at all, and a control character is a copy-and-paste accident.
 * Its message never shows it.
 */
function checkOAuthClient(
  options: { clientId?: unknown; clientSecret?: unknown; scopes?: unknown },
  toolkit: string,
  /** A new client (create, managedAuth) needs its id; an update may leave it out. */
  { clientIdRequired = false } = {},
): void {
  const { clientId, clientSecret, scopes } = options;
  if (
    (clientIdRequired || clientId !== undefined) &&
    (typeof clientId !== 'string' || clientId.trim() === '')
  ) {
    throw invalid(`An oauth2 auth config for ${toolkit} needs the ${apiRef('clientId')} of your OAuth app.`);
  }
  if (clientSecret !== undefined && (typeof clientSecret !== 'string' || clientSecret === '')) {
    throw invalid(
      `${apiRef('clientSecret')} must be a non-empty string, or left out for a public (PKCE-only) client.`,
    );
  }
  if (scopes !== undefined && !Array.isArray(scopes)) throw invalid('scopes must be a list of strings.');
  // counted before anything walks the list
  if (scopes !== undefined && scopes.length > MAX_SCOPES) {
    throw new ToolMuxError({
      code: 'AUTH_CONFIG_INVALID',
      message: `scopes holds ${scopes.length.toLocaleString('en')} entries, over the limit of ${MAX_SCOPES.toLocaleString('en')}: pass the scopes your OAuth app asks for.`,
      details: { field: 'scopes' },
    });
  }
  if (scopes?.some((scope) => typeof scope !== 'string')) throw invalid('scopes must be a list of strings.');
  if (clientId !== undefined) {
    checkText(clientId as string, {
      field: apiRef('clientId'),
      code: 'AUTH_CONFIG_INVALID',
      maxLength: 1024,
    });
  }
  if (clientSecret !== undefined) {
    const problem = textProblem(clientSecret as string, { maxLength: MAX_CLIENT_SECRET_LENGTH });
    if (problem !== undefined) {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_INVALID',
        message: `${apiRef('clientSecret')} (not shown) ${problem}: pass the client secret exactly as your OAuth app's settings show it, up to ${MAX_CLIENT_SECRET_LENGTH.toLocaleString('en')} characters without control characters.`,
        details: { field: apiRef('clientSecret') },
      });
    }
  }
  for (const scope of (scopes as string[] | undefined) ?? []) {
    checkText(scope, { field: 'scope', code: 'AUTH_CONFIG_INVALID', maxLength: 1024 });
    // the authorization request joins scopes with spaces (RFC 6749 3.3): "repo user" would ask for two
    if (/\s/.test(scope)) {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_INVALID',
        message: `scope ${shownValue(scope)} holds white space, which separates scopes in an OAuth request: give each scope as its own entry (["repo", "user"], not ["repo user"]).`,
        details: { field: 'scopes' },
      });
    }
  }
}

/**
 * The operator's `managedAuth` (an option of `new ToolMux()`), checked when the ToolMux is made, as an
 * auth config's OAuth client is (client id, secret, scopes): else a wrong entry failed only when a user
 * first connected its toolkit. `CONFIG_INVALID` naming the entry; a secret is never shown.
 */
const MANAGED_AUTH_KEYS = everyKeyOf<ManagedAuthCredentials>()(['clientId', 'clientSecret', 'scopes']);

export function checkManagedAuth(managedAuth: unknown): void {
  if (managedAuth === undefined) return;
  if (typeof managedAuth !== 'object' || managedAuth === null || Array.isArray(managedAuth)) {
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `managedAuth must be an object of OAuth clients by toolkit slug ({ github: { clientId, clientSecret } }); got ${shownValue(managedAuth)}.`,
    });
  }
  for (const [toolkit, client] of Object.entries(managedAuth)) {
    const entry = `managedAuth[${shownValue(toolkit)}]`;
    if (typeof client !== 'object' || client === null || Array.isArray(client)) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `${entry} must be an OAuth client: { clientId, clientSecret?, scopes? }.`,
      });
    }
    // `{ clientId, secret }` gave the client no secret, and its connections failed at the provider
    checkOptionNames(client, MANAGED_AUTH_KEYS, entry);
    const { clientId, clientSecret, scopes } = client as Record<string, unknown>;
    try {
      checkOAuthClient({ clientId, clientSecret, scopes }, toolkit, { clientIdRequired: true });
    } catch (error) {
      if (!ToolMuxError.isInstance(error)) throw error;
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `${entry}: ${error.message}`,
        details: error.details,
      });
    }
  }
}

/** How many of the accounts an auth config's deletion could not delete its error names. */
const NAMED_ACCOUNTS = 10;

/**
 * The error of `authConfigs.delete()` when some accounts could not be deleted (every other one was):
 * the code of the first such failure (SECRET_KEY_MISSING, STORE_ERROR, …), a message naming the
 * accounts (the first {@link NAMED_ACCOUNTS}), what became of the rest and the first failure's own
 * message (its fix), and every such account's id in `details.connectedAccountIds`. A failure that is
 * not a ToolMuxError (a bug) is thrown as it is.
 */
function notDeleted(
  authConfigId: string,
  failed: ReadonlyArray<{ accountId: string; error: unknown }>,
): unknown {
  const first = failed.find(({ error }) => ToolMuxError.isInstance(error))?.error as ToolMuxError | undefined;
  if (!first) return failed[0]!.error;
  const named = failed
    .slice(0, NAMED_ACCOUNTS)
    .map(
      ({ accountId, error }) =>
        `${accountId} (${ToolMuxError.isInstance(error) ? error.code : 'unexpected error'})`,
    )
    .join(', ');
  const more = failed.length > NAMED_ACCOUNTS ? ` and ${failed.length - NAMED_ACCOUNTS} more` : '';
  return new ToolMuxError({
    code: first.code,
    message: `Auth config ${authConfigId} was not deleted: ${failed.length === 1 ? 'its account' : `${failed.length} of its accounts`} ${named}${more} could not be, and ${failed.length === 1 ? 'keeps its' : 'keep their'} tokens (not revoked); every other account of it was deleted, its tokens revoked. ${first.message} Then delete the auth config again.`,
    cause: first,
    details: { authConfigId, connectedAccountIds: failed.map(({ accountId }) => accountId) },
  });
}

/**
 * How many times `authConfigs.delete()` revokes and deletes accounts given credentials through the
 * config while it was being deleted, before the config goes with those that still come.
 */
const HELD_ACCOUNT_ROUNDS = 5;

/**
 * How many accounts `authConfigs.delete()` revokes and deletes at once. Each revocation request may
 * take up to `oauthRequestTimeoutMs` (30 s by default) at a provider that does not answer: one account
 * after another, a config of 100 accounts held its caller (and a REST `DELETE`) for about 100 minutes.
 * A few at once divide that by as many, without a burst of requests at the provider or more store
 * connections than a pool has.
 */
export const ACCOUNTS_REVOKED_AT_ONCE = 8;

/** How many times `authConfigs.update()` applies its changes to a config that changed meanwhile. */
const UPDATE_ATTEMPTS = 20;

/** What `authConfigs.update()` may change, per type. */
const UPDATABLE = {
  oauth2: AUTH_CONFIG_UPDATE_FIELDS,
  credentials: ['name'],
} as const;

/**
 * `mux.authConfigs`: how a toolkit is connected (an OAuth app, or which credential fields), made by
 * the developer or, from the operator's `managedAuth`, by toolmux itself (precedence steps 3 and 4).
 */
export class AuthConfigs {
  readonly #records: AuthRecords;
  readonly #accounts: ConnectedAccounts;

  constructor(records: AuthRecords, accounts: ConnectedAccounts) {
    this.#records = records;
    this.#accounts = accounts;
  }

  async create(toolkitSlug: string, options: CreateAuthConfigOptions): Promise<AuthConfig> {
    const type = checkAuthConfigType(options);
    checkAuthConfigCreateFields(options, type);
    const toolkit = this.#records.toolkit(toolkitSlug);
    if (!schemeOf(toolkit, type)) {
      throw invalid(
        `${toolkit.name} (${toolkit.slug}) has no ${type} auth scheme; its schemes are ${schemeList(toolkit)}.`,
      );
    }
    checkName(options.name);
    if (options.type !== 'oauth2') {
      const record = this.#newAuthConfig(
        toolkit.slug,
        options.type,
        'user',
        { name: options.name },
        undefined,
      );
      await this.#records.store.insertAuthConfig(record);
      return publicAuthConfig(record);
    }
    checkOAuthClient(options, toolkit.slug, { clientIdRequired: true });
    const record = this.#newAuthConfig(
      toolkit.slug,
      'oauth2',
      'user',
      { name: options.name, clientId: options.clientId, scopes: options.scopes },
      options.clientSecret,
    );
    await this.#records.store.insertAuthConfig(record);
    return publicAuthConfig(record);
  }

  #newAuthConfig(
    toolkit: string,
    type: AuthConfigRecord['type'],
    createdBy: AuthConfigRecord['createdBy'],
    settings: { name?: string | undefined; clientId?: string; scopes?: string[] | undefined },
    clientSecret: string | undefined,
  ): AuthConfigRecord {
    const id = newId('ac');
    const now = new Date();
    return {
      id,
      toolkit,
      type,
      createdBy,
      settings: JSON.parse(JSON.stringify(settings)) as Record<string, unknown>,
      secret: clientSecret === undefined ? null : this.#records.options.vault.sealJson(id, { clientSecret }),
      createdAt: now,
      updatedAt: now,
    };
  }

  /**
   * Changes an auth config in place: an oauth2 config's `clientId`, `clientSecret` (sealed again by
   * the vault), `scopes` and `name`; an api_key, bearer or basic config's `name` only (it holds
   * nothing else). Accounts connected through it stay connected, and their next token refresh uses
   * the new client. A config toolmux made from `managedAuth` may be updated too: toolmux reads
   * `managedAuth` only when it creates that config. Two updates at once both apply, field by field
   * (a compare-and-set on `updatedAt`).
   */
  async update(id: string, changes: UpdateAuthConfigOptions): Promise<AuthConfig> {
    const store = this.#records.store;
    const given = givenAuthConfigChanges(changes);
    let config = await this.#records.authConfig(id);
    const updatable = config.type === 'oauth2' ? UPDATABLE.oauth2 : UPDATABLE.credentials;
    const fields = Object.keys(given);
    const refused = fields.find((key) => !(updatable as readonly string[]).includes(key));
    if (refused !== undefined || fields.length === 0) {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_INVALID',
        message: `${refused === undefined ? 'Nothing to update' : `"${authConfigField(refused)}" cannot be updated`} on ${config.type} auth config ${config.id}: give one or more of ${authConfigFields(updatable)}.`,
        details: {
          authConfigId: config.id,
          ...(refused !== undefined ? { field: authConfigField(refused) } : {}),
        },
      });
    }
    checkName(given.name);
    checkOAuthClient(given, config.toolkit);
    if (!store.updateAuthConfig) {
      throw new ToolMuxError({
        code: 'NOT_SUPPORTED',
        message:
          'This store cannot update auth configs (a store of your own without updateAuthConfig): add the method, or create another auth config and connect the accounts through it.',
      });
    }
    const { clientSecret, ...settings } = given;
    const secret =
      clientSecret === undefined
        ? undefined
        : this.#records.options.vault.sealJson(config.id, { clientSecret });
    for (let attempt = 1; ; attempt++) {
      const updated = await store.updateAuthConfig(
        config.id,
        {
          settings: JSON.parse(JSON.stringify({ ...config.settings, ...settings })) as Record<
            string,
            unknown
          >,
          ...(secret !== undefined ? { secret } : {}),
          // later than the one replaced, also within one millisecond: the next compare-and-set tells them apart
          updatedAt: new Date(Math.max(Date.now(), config.updatedAt.getTime() + 1)),
        },
        config.updatedAt,
      );
      if (updated) return publicAuthConfig(updated);
      if (attempt === UPDATE_ATTEMPTS) {
        // updates at once from many instances each win within a few rounds; this many refusals in a
        // row is a store whose compare-and-set never matches (one of your own), not a race
        throw new ToolMuxError({
          code: 'STORE_ERROR',
          message: `The store refused to update auth config ${config.id} ${UPDATE_ATTEMPTS} times in a row although it read it unchanged each time: a store of your own must write in updateAuthConfig() when the record's updatedAt equals expectedUpdatedAt (to the millisecond) and answer the written record. Nothing was changed.`,
          details: { authConfigId: config.id },
        });
      }
      // deleted (AUTH_CONFIG_NOT_FOUND) or changed meanwhile: apply the changes to what it is now
      config = await this.#records.authConfig(id);
    }
  }

  async get(id: string): Promise<AuthConfig> {
    return publicAuthConfig(await this.#records.authConfig(id));
  }

  async list(query: { toolkit?: string; limit?: number; cursor?: string } = {}): Promise<{
    items: AuthConfig[];
    nextCursor: string | undefined;
  }> {
    if (query.toolkit !== undefined) checkId(query.toolkit, 'toolkit');
    const page = await this.#records.store.listAuthConfigs({
      toolkit: query.toolkit,
      limit: query.limit ?? 50,
      cursor: query.cursor,
    });
    return { items: page.items.map(publicAuthConfig), nextCursor: page.nextCursor };
  }

  /**
   * Deletes the config and every account connected through it (their tokens are revoked first when
   * the toolkit has a revocation endpoint). An OAuth config's accounts go as
   * `connectedAccounts.delete()` deletes them, each only as it was when its tokens were revoked: a
   * token refresh that stored new tokens meanwhile has those revoked too (revoking what was read and
   * then deleting the rows with the config left them live at the provider). An account connected
   * through the config after it listed them (an OAuth callback landing just then) goes with the config,
   * and the store answers it: its tokens are revoked then (they used to stay live at the provider).
   * One connected after the config went finds its account gone, and the callback revokes its tokens.
   *
   * Accounts are revoked and deleted {@link ACCOUNTS_REVOKED_AT_ONCE} at a time (those the store
   * hands back too), and one account never holds up the others: each is revoked and deleted whatever
   * became of the ones before or beside it. An account that cannot be deleted (its tokens sealed with
   * a secret key not configured, a store failure) is kept with its tokens, and so is the config, for
   * another try once that is fixed: the error names those accounts, in the order they were listed,
   * and says why (see {@link notDeleted}).
   */
  async delete(id: string): Promise<void> {
    const config = await this.#records.authConfig(id);
    const store = this.#records.store;
    const failed: Array<{ accountId: string; error: unknown; listed: number }> = [];
    let listed = 0;
    /** Revokes and deletes accounts of the config, {@link ACCOUNTS_REVOKED_AT_ONCE} at a time. */
    const deleteAccounts = (accounts: readonly ConnectedAccountRecord[]) =>
      forEachAtMost(
        accounts.map((account) => ({ account, listed: listed++ })),
        ACCOUNTS_REVOKED_AT_ONCE,
        ({ account, listed }) =>
          this.#accounts.delete(account.id).catch((error: unknown) => {
            // deleted meanwhile by another caller
            if (ToolMuxError.isInstance(error) && error.code === 'CONNECTED_ACCOUNT_NOT_FOUND') return;
            failed.push({ accountId: account.id, error, listed });
          }),
      );
    // in the order listed, not the order the failures came in
    const throwIfFailed = () => {
      if (failed.length > 0)
        throw notDeleted(
          config.id,
          failed.sort((a, b) => a.listed - b.listed),
        );
    };
    if (config.type === 'oauth2') {
      for (let cursor: string | undefined, first = true; first || cursor; first = false) {
        const page = await store.listConnectedAccounts({ authConfigIds: [id], limit: 100, cursor });
        await deleteAccounts(page.items);
        cursor = page.nextCursor;
      }
      throwIfFailed();
    }
    for (let round = 1; ; round++) {
      // the client as it is now (updated since it was read: its tokens are revoked with the new one)
      const client = (await store.getAuthConfig(id)) ?? config;
      // Accounts given credentials through the config since it listed them (an OAuth callback landing
      // just then) are answered without anything deleted, and revoked and deleted as the listed ones
      // were (each row goes only once its tokens were revoked): deleting them with the config and then
      // revoking left, to a process that died between the two, tokens live at the provider with no row
      // to revoke them with. Past a few rounds (connections keep coming) they go with the config.
      const deleted = await store.deleteAuthConfig(id, {
        keepHeldAccounts: config.type === 'oauth2' && round <= HELD_ACCOUNT_ROUNDS,
      });
      if (typeof deleted === 'object' && !Array.isArray(deleted)) {
        await deleteAccounts(deleted.held);
        throwIfFailed();
        continue;
      }
      if (client.type !== 'oauth2' || !Array.isArray(deleted)) return;
      const anyway = 'it was deleted with its auth config';
      // the rows are gone: a failure is logged for the operator, and the other accounts revoked all the same
      await forEachAtMost(deleted, ACCOUNTS_REVOKED_AT_ONCE, (account) =>
        this.#accounts
          .revokeTokens(account, client, anyway)
          .catch((error: unknown) => revocationFailed(this.#records, account, error, anyway)),
      );
      return;
    }
  }

  /**
   * Precedence steps 3 and 4: the auth config toolmux created for the toolkit, or (with `create`) a
   * new one from the operator's `managedAuth` credentials. At most one per toolkit, also when two
   * processes create it at once.
   */
  async managed(toolkit: Toolkit, options: { create: boolean }): Promise<AuthConfigRecord | undefined> {
    const store = this.#records.store;
    const find = async () =>
      (await store.listAuthConfigs({ toolkit: toolkit.slug, createdBy: 'toolmux', limit: 1 })).items[0];
    const existing = await find();
    if (existing || !options.create) return existing;
    const managed = this.#records.options.managedAuth[toolkit.slug];
    const credentials = credentialOnlySchemeOf(toolkit);
    if (!managed && !credentials) return undefined;
    const name = `${toolkit.name} (managed by toolmux)`;
    let record: AuthConfigRecord;
    if (managed) {
      oauth2SchemeOf(toolkit);
      record = this.#newAuthConfig(
        toolkit.slug,
        'oauth2',
        'toolmux',
        { name, clientId: managed.clientId, scopes: managed.scopes },
        managed.clientSecret,
      );
    } else {
      // An API key, token or password is the user's own: the config holds nothing secret, so toolmux
      // can make it for any credential toolkit without the developer (precedence step 4).
      record = this.#newAuthConfig(toolkit.slug, credentials!.type, 'toolmux', { name }, undefined);
    }
    if (await store.insertAuthConfig(record)) return record;
    return find();
  }
}
