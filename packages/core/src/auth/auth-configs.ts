import type { Toolkit } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import type { AuthConfigRecord } from '../store/types.js';
import { newId } from '../util/ids.js';
import { checkId, checkText } from '../util/stored-text.js';
import { type AuthRecords, publicAuthConfig } from './auth-records.js';
import type { ConnectedAccounts } from './connected-accounts.js';
import { credentialOnlySchemeOf, oauth2SchemeOf, schemeList, schemeOf } from './schemes.js';
import type { AuthConfig, CreateAuthConfigOptions } from './types.js';

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
    const toolkit = this.#records.toolkit(toolkitSlug);
    const invalid = (message: string) => new ToolMuxError({ code: 'AUTH_CONFIG_INVALID', message });
    const type = (options as { type?: unknown } | undefined)?.type;
    if (type !== 'oauth2' && type !== 'api_key' && type !== 'bearer' && type !== 'basic') {
      throw invalid(
        `Auth config type must be oauth2, api_key, bearer or basic; got ${JSON.stringify(type)}.`,
      );
    }
    if (!schemeOf(toolkit, type)) {
      throw invalid(
        `${toolkit.name} (${toolkit.slug}) has no ${type} auth scheme; its schemes are ${schemeList(toolkit)}.`,
      );
    }
    if (options.name !== undefined && typeof options.name !== 'string')
      throw invalid('name must be a string.');
    if (options.name !== undefined) {
      checkText(options.name, {
        field: 'name',
        code: 'AUTH_CONFIG_INVALID',
        maxLength: 200,
        allowEmpty: true,
        freeText: true,
      });
    }
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
    if (typeof options.clientId !== 'string' || options.clientId.trim() === '') {
      throw invalid(`An oauth2 auth config for ${toolkit.slug} needs the clientId of your OAuth app.`);
    }
    if (
      options.clientSecret !== undefined &&
      (typeof options.clientSecret !== 'string' || options.clientSecret === '')
    ) {
      throw invalid('clientSecret must be a non-empty string, or left out for a public (PKCE-only) client.');
    }
    if (
      options.scopes !== undefined &&
      (!Array.isArray(options.scopes) || options.scopes.some((scope) => typeof scope !== 'string'))
    ) {
      throw invalid('scopes must be a list of strings.');
    }
    checkText(options.clientId, { field: 'clientId', code: 'AUTH_CONFIG_INVALID', maxLength: 1024 });
    for (const scope of options.scopes ?? []) {
      checkText(scope, { field: 'scope', code: 'AUTH_CONFIG_INVALID', maxLength: 1024 });
    }
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
   * the toolkit has a revocation endpoint).
   */
  async delete(id: string): Promise<void> {
    const config = await this.#records.authConfig(id);
    const store = this.#records.store;
    if (config.type === 'oauth2') {
      for (let cursor: string | undefined, first = true; first || cursor; first = false) {
        const page = await store.listConnectedAccounts({ authConfigIds: [id], limit: 100, cursor });
        for (const account of page.items) await this.#accounts.revokeTokens(account, config);
        cursor = page.nextCursor;
      }
    }
    await store.deleteAuthConfig(id);
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
