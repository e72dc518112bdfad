import type {
  AuthField,
  AuthScheme,
  CredentialPlacement,
  Credentials,
  FieldAuthScheme,
  OAuth2Scheme,
  Toolkit,
} from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import type { AuthConfigType } from '../store/types.js';

const DEFAULT_FIELDS: Record<'bearer' | 'basic', AuthField[]> = {
  bearer: [{ name: 'token', label: 'Token', secret: true }],
  basic: [
    { name: 'username', label: 'Username', secret: false },
    { name: 'password', label: 'Password', secret: true },
  ],
};

/** What an HTTP header value can carry (what `Headers` accepts): Latin-1, no control characters but tab. */
export const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** How an API key is sent when the scheme does not say: `Authorization: Bearer <key>`. */
const DEFAULT_API_KEY_PLACEMENT: CredentialPlacement = {
  in: 'header',
  name: 'Authorization',
  prefix: 'Bearer ',
};

/** The toolkit's scheme of `type`, or undefined. */
export function schemeOf(
  toolkit: Toolkit,
  type: AuthConfigType,
): Exclude<AuthScheme, { type: 'none' }> | undefined {
  return toolkit.auth.find((scheme) => scheme.type === type) as
    | Exclude<AuthScheme, { type: 'none' }>
    | undefined;
}

/** The toolkit's OAuth 2.0 scheme; AUTH_CONFIG_INVALID when it has none. */
export function oauth2SchemeOf(toolkit: Toolkit): OAuth2Scheme {
  const scheme = schemeOf(toolkit, 'oauth2');
  if (scheme?.type !== 'oauth2') {
    throw new ToolMuxError({
      code: 'AUTH_CONFIG_INVALID',
      message: `${toolkit.name} (${toolkit.slug}) has no oauth2 auth scheme; its schemes are ${schemeList(toolkit)}.`,
    });
  }
  return scheme;
}

/** The first scheme that needs an account (the toolkit's default), or undefined for no-auth toolkits. */
export function defaultSchemeOf(toolkit: Toolkit): Exclude<AuthScheme, { type: 'none' }> | undefined {
  return toolkit.auth.find((scheme) => scheme.type !== 'none') as
    | Exclude<AuthScheme, { type: 'none' }>
    | undefined;
}

/**
 * The default scheme of a toolkit whose schemes needing an account are all credentials (`api_key`,
 * `bearer`, `basic`), for which toolmux makes its own auth config; undefined otherwise.
 */
export function credentialOnlySchemeOf(toolkit: Toolkit): FieldAuthScheme | undefined {
  const schemes = toolkit.auth.filter((scheme) => scheme.type !== 'none');
  if (schemes.length === 0 || schemes.some((scheme) => scheme.type === 'oauth2')) return undefined;
  return schemes[0] as FieldAuthScheme;
}

export function schemeList(toolkit: Toolkit): string {
  return toolkit.auth.map((scheme) => scheme.type).join(', ') || 'none';
}

/** The fields a user provides for a field scheme (declared, or the bearer / basic defaults). */
export function fieldsOf(scheme: FieldAuthScheme): AuthField[] {
  if (scheme.fields && scheme.fields.length > 0) return scheme.fields;
  return scheme.type === 'api_key'
    ? [{ name: 'apiKey', label: 'API key', secret: true }]
    : DEFAULT_FIELDS[scheme.type];
}

/**
 * The credential fields that no auth scheme of the toolkit keeps secret (each declares them
 * `secret: false`: a username, an account's API base URL): a tool's result names them as the API
 * does, they are not masked there.
 */
export function shownFieldsOf(toolkit: Toolkit): ReadonlySet<string> {
  const shown = new Set<string>();
  const secret = new Set<string>();
  for (const scheme of toolkit.auth) {
    if (scheme.type === 'none') continue;
    if (scheme.type === 'oauth2') {
      // its credentials are tokens; a field scheme's field of a token's name stays secret
      for (const name of ['accessToken', 'refreshToken', 'idToken']) secret.add(name);
      continue;
    }
    for (const field of fieldsOf(scheme)) (field.secret === false ? shown : secret).add(field.name);
  }
  for (const name of secret) shown.delete(name);
  return shown;
}

/**
 * The credential field a scheme sends as (part of) a header value, with that header and the text put
 * before it; undefined when none is (basic sends base64, a query parameter is percent-encoded).
 */
function headerFieldOf(
  scheme: Exclude<AuthScheme, { type: 'none' }>,
): { field: string; header: string; prefix: string } | undefined {
  switch (scheme.type) {
    case 'oauth2':
      return { field: 'accessToken', header: 'Authorization', prefix: 'Bearer ' };
    case 'bearer': {
      const field = fieldsOf(scheme).find((each) => each.secret !== false) ?? fieldsOf(scheme)[0]!;
      return { field: field.name, header: 'Authorization', prefix: 'Bearer ' };
    }
    case 'basic':
      return undefined;
    case 'api_key': {
      const placement = scheme.placement ?? DEFAULT_API_KEY_PLACEMENT;
      if (placement.in === 'query') return undefined;
      const fields = fieldsOf(scheme);
      const field = placement.field ?? (fields.find((each) => each.secret !== false) ?? fields[0]!).name;
      return { field, header: placement.name, prefix: placement.prefix ?? '' };
    }
  }
}

/** Why a credential cannot be sent in its header: names the field and the header, never the value. */
function unsendable(field: string, header: string, fix: string): string {
  return `Credential field "${field}" holds characters an HTTP header cannot carry (Latin-1 text without control characters), and the auth scheme sends it in the ${header} header: ${fix}`;
}

/**
 * Checks credentials given for a field scheme: every required field a non-empty string, no field the
 * scheme does not declare, and one the scheme sends in a header fit for it (else every proxy call of
 * the account would fail). Messages name fields, never values.
 */
export function checkFields(
  toolkit: Toolkit,
  scheme: FieldAuthScheme,
  given: unknown,
): Record<string, string> {
  const fields = fieldsOf(scheme);
  const names = fields.map((field) => field.name);
  const invalid = (message: string) =>
    new ToolMuxError({
      code: 'CONNECTED_ACCOUNT_INVALID',
      message: `${message} ${toolkit.name} (${scheme.type}) takes ${names.map((name) => `"${name}"`).join(', ')}.`,
    });
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw invalid('Credentials must be an object of fields.');
  }
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (!names.includes(name)) throw invalid(`Unknown credential field "${name}".`);
    if (typeof value !== 'string') throw invalid(`Credential field "${name}" must be a string.`);
    if (value !== '') values[name] = value;
  }
  for (const field of fields) {
    if (field.required !== false && values[field.name] === undefined) {
      throw invalid(`Credential field "${field.name}" is required.`);
    }
  }
  const placed = headerFieldOf(scheme);
  const value = placed ? values[placed.field] : undefined;
  if (placed && value !== undefined && !HEADER_VALUE.test(value)) {
    throw invalid(unsendable(placed.field, placed.header, 'send it as the API issued it.'));
  }
  return values;
}

/**
 * Puts an account's credentials on an outgoing request, the way its scheme says: Bearer for oauth2 and
 * bearer, Basic for basic, the API key where the scheme's `placement` says. A credential a header
 * cannot carry (stored before accounts were checked for it, a provider's token, a scheme changed since
 * the account was connected) is CONNECTED_ACCOUNT_INVALID, not the TypeError `Headers` throws.
 */
export function applyCredentials(
  scheme: Exclude<AuthScheme, { type: 'none' }>,
  credentials: Credentials,
  url: URL,
  headers: Headers,
  accountId: string,
): void {
  const placed = headerFieldOf(scheme);
  if (placed && !HEADER_VALUE.test(`${credentials[placed.field] ?? ''}`)) {
    throw new ToolMuxError({
      code: 'CONNECTED_ACCOUNT_INVALID',
      message: unsendable(
        placed.field,
        placed.header,
        `connect account ${accountId} again with the credential as the API issued it.`,
      ),
    });
  }
  switch (scheme.type) {
    case 'oauth2':
      headers.set('Authorization', `Bearer ${credentials.accessToken ?? ''}`);
      return;
    case 'bearer': {
      const field = fieldsOf(scheme).find((each) => each.secret !== false) ?? fieldsOf(scheme)[0]!;
      headers.set('Authorization', `Bearer ${credentials[field.name] ?? ''}`);
      return;
    }
    case 'basic': {
      const [user, password] = fieldsOf(scheme);
      const pair = `${credentials[user?.name ?? 'username'] ?? ''}:${credentials[password?.name ?? 'password'] ?? ''}`;
      headers.set('Authorization', `Basic ${Buffer.from(pair).toString('base64')}`);
      return;
    }
    case 'api_key': {
      const placement = scheme.placement ?? DEFAULT_API_KEY_PLACEMENT;
      const fields = fieldsOf(scheme);
      const field = placement.field ?? (fields.find((each) => each.secret !== false) ?? fields[0]!).name;
      const value = `${placement.prefix ?? ''}${credentials[field] ?? ''}`;
      if (placement.in === 'query') url.searchParams.set(placement.name, value);
      else headers.set(placement.name, value);
      return;
    }
  }
}
