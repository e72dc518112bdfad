import { apiRef } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import { requestObject } from '../util/options-object.js';
import { shownValue } from '../util/stored-text.js';
import type { AuthConfig, UpdateAuthConfigOptions } from './types.js';

/** The fields `authConfigs.update()` takes: an oauth2 config all four, an api_key, bearer or basic config `name`. */
export const AUTH_CONFIG_UPDATE_FIELDS = ['clientId', 'clientSecret', 'scopes', 'name'] as const;

/**
 * A field of an auth config's create or update in the words of the message's reader: the OAuth
 * client's fields are `clientId` and `clientSecret` in the SDK, `client_id` and `client_secret` over
 * REST; the others are alike in both.
 */
export function authConfigField(key: string): string {
  return key === 'clientId' || key === 'clientSecret' ? apiRef(key) : key;
}

/** {@link authConfigField} of each, joined with commas. */
export function authConfigFields(keys: readonly string[]): string {
  return keys.map(authConfigField).join(', ');
}

/**
 * The changes given to `authConfigs.update()`: the fields not `undefined` (a field given as
 * `undefined`, as REST passes one left out, keeps its value). A field no auth config has is
 * AUTH_CONFIG_INVALID here, before anything is read or sent, so that embedded and remote mode refuse
 * it alike (remote mode sent the known fields only, and applied them).
 */
export function givenAuthConfigChanges(changes: unknown): UpdateAuthConfigOptions {
  const given: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(requestObject(changes as object, 'mux.authConfigs.update()'))) {
    if (value === undefined) continue;
    if (!(AUTH_CONFIG_UPDATE_FIELDS as readonly string[]).includes(key)) {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_INVALID',
        message:
          `${shownValue(key)} cannot be updated on an auth config: give one or more of ${authConfigFields(AUTH_CONFIG_UPDATE_FIELDS)} (an api_key, bearer or basic config: name).` +
          (key === 'type' || key === 'toolkit'
            ? ` To change the ${key}, create another auth config (${apiRef('authConfigs.create')}).`
            : ''),
        details: { field: key.length > 64 ? `${key.slice(0, 64)}…` : key },
      });
    }
    given[key] = value;
  }
  return given as UpdateAuthConfigOptions;
}

/** The options `authConfigs.create()` takes, by type: an api_key, bearer or basic config holds a name only. */
const AUTH_CONFIG_CREATE_FIELDS = {
  oauth2: ['type', 'clientId', 'clientSecret', 'scopes', 'name'],
  credentials: ['type', 'name'],
} as const;

/**
 * Refuses an option of `authConfigs.create()` that the type has no place for, as `update()` refuses
 * one: `{ type: 'api_key', clientSecret }` made a config without the secret (it was dropped, in
 * embedded and remote mode alike), and an unknown key was ignored. Options given as `undefined` are
 * left out. AUTH_CONFIG_INVALID naming the option and those the type takes.
 */
export function checkAuthConfigCreateFields(options: object, type: AuthConfig['type']): void {
  const allowed: readonly string[] =
    type === 'oauth2' ? AUTH_CONFIG_CREATE_FIELDS.oauth2 : AUTH_CONFIG_CREATE_FIELDS.credentials;
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || allowed.includes(key)) continue;
    const oauthOnly = (AUTH_CONFIG_CREATE_FIELDS.oauth2 as readonly string[]).includes(key);
    throw new ToolMuxError({
      code: 'AUTH_CONFIG_INVALID',
      message: oauthOnly
        ? // a known key: quoted as it is (shownValue would escape the reference's own quotes)
          `"${authConfigField(key)}" is an option of oauth2 auth configs only; ${type === 'api_key' ? 'an' : 'a'} ${type} auth config takes type and name: leave "${authConfigField(key)}" out (the user's credentials come when they connect an account).`
        : `${shownValue(key)} is not an option of ${apiRef('authConfigs.create')}: give ${authConfigFields(allowed)}${type === 'oauth2' ? '' : ` (${apiRef('clientId')}, ${apiRef('clientSecret')} and scopes are for oauth2 configs)`}.`,
      details: { field: key.length > 64 ? `${key.slice(0, 64)}…` : authConfigField(key) },
    });
  }
}

/**
 * The `type` of `authConfigs.create()`: one of the four, else AUTH_CONFIG_INVALID naming it. Checked
 * first, in embedded and remote mode alike (remote mode read it from options that were not there).
 */
export function checkAuthConfigType(options: unknown): AuthConfig['type'] {
  const { type } = requestObject(options as { type?: unknown }, 'mux.authConfigs.create()');
  if (type !== 'oauth2' && type !== 'api_key' && type !== 'bearer' && type !== 'basic') {
    throw new ToolMuxError({
      code: 'AUTH_CONFIG_INVALID',
      message: `Auth config type must be oauth2, api_key, bearer or basic; got ${shownValue(type)}.`,
    });
  }
  return type;
}
