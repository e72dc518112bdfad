import * as oauth from 'oauth4webapi';
import type { OAuth2Scheme } from '../catalog/types.js';
import { basicCredentials, maskSecretsLeading, secretForms } from '../util/redact.js';
import { byteSize, responseTextUpTo } from '../util/response-text.js';
import { leadingText, storableText } from '../util/stored-text.js';
import { wholeNumberOf } from '../util/whole-number.js';

/** The OAuth client of an auth config (the client secret decrypted for this request only). */
export interface OAuthClient {
  clientId: string;
  clientSecret: string | undefined;
  scopes: readonly string[];
}

/** What a token endpoint answered, as toolmux stores it (encrypted). */
export interface TokenSet {
  accessToken: string;
  tokenType: string;
  refreshToken?: string;
  scope?: string;
  idToken?: string;
  /** Epoch milliseconds; absent when the provider did not say. */
  expiresAt?: number;
  /** How long the access token was issued for (its `expires_in`), in milliseconds; with `expiresAt`. */
  lifetimeMs?: number;
}

/**
 * What a refused refresh means, as the provider's error code says: the refresh token is dead
 * (`invalid_grant`, or a code of the scheme's `refreshTokenDeadErrors`), so the user must connect
 * again; or the token endpoint refused the OAuth client itself (`invalid_client`,
 * `unauthorized_client`, or a code of the scheme's `clientRejectedErrors`), so the auth config must be
 * fixed. Any other failure may pass: the refresh is tried again later.
 */
export type RefreshRefusal = 'refresh_token_dead' | 'client_rejected';

/**
 * An OAuth failure, with the provider's error code (`invalid_grant`, `access_denied`, …) and a
 * description that is safe to store and show: it never carries the provider's response body, which
 * may hold tokens.
 */
export class OAuthFailure extends Error {
  override readonly name = 'OAuthFailure';
  /** The OAuth `error` code, or `server_error` / `network_error` / `invalid_response`. */
  readonly error: string;
  readonly description: string;
  /**
   * Set by {@link refreshTokens} when the error code says what the refusal means, and by
   * {@link exchangeCode} for a refused client (`client_rejected`).
   */
  readonly refusal: RefreshRefusal | undefined;
  constructor(error: string, description: string, refusal?: RefreshRefusal) {
    super(`${error}: ${description}`);
    this.error = error;
    this.description = description;
    this.refusal = refusal;
  }
}

/** The OAuth error codes that mean a dead refresh token, whatever the scheme says (RFC 6749, 5.2). */
const REFRESH_TOKEN_DEAD = ['invalid_grant'];
/** The OAuth error codes that mean the token endpoint refused the client (RFC 6749, 5.2). */
const CLIENT_REJECTED = ['invalid_client', 'unauthorized_client'];

/** What the error code of a refused refresh means for `scheme` (see {@link RefreshRefusal}). */
function refusalOf(scheme: OAuth2Scheme, error: string): RefreshRefusal | undefined {
  if (REFRESH_TOKEN_DEAD.includes(error) || scheme.refreshTokenDeadErrors?.includes(error)) {
    return 'refresh_token_dead';
  }
  if (CLIENT_REJECTED.includes(error) || scheme.clientRejectedErrors?.includes(error)) {
    return 'client_rejected';
  }
  return undefined;
}

/**
 * The error code of a connection whose OAuth callback found the auth config's client refused (see
 * `handleOAuthCallback`): the account's `statusReason` starts with it and a colon.
 */
export const AUTH_CONFIG_REFUSED = 'auth_config_invalid';

/**
 * The error code of a connection whose callback came after its auth config was given another OAuth
 * client id (see `clientChangedFailure`): the account's `statusReason` starts with it and a colon.
 */
export const AUTH_CONFIG_CHANGED = 'auth_config_changed';

/** Whether an account's `statusReason` says the auth config's OAuth client was refused. */
export function authConfigRefusedIn(statusReason: string | null | undefined): boolean {
  return statusReason?.startsWith(`${AUTH_CONFIG_REFUSED}: `) ?? false;
}

/** `failure` with its {@link RefreshRefusal}, when its code means one of `meanings`. */
function withRefusal(
  scheme: OAuth2Scheme,
  failure: OAuthFailure,
  meanings: readonly RefreshRefusal[],
): OAuthFailure {
  const refusal = refusalOf(scheme, failure.error);
  return refusal && meanings.includes(refusal)
    ? new OAuthFailure(failure.error, failure.description, refusal)
    : failure;
}

/**
 * How requests reach the authorization server (token, refresh, revocation): the ToolMux's `fetch`,
 * and how long one may take, its answer read in full, before it is given up (an endpoint that never
 * answers, or stops in the middle of its answer, fails it as `network_error` then).
 */
export interface OAuthTransport {
  fetch: typeof globalThis.fetch;
  timeoutMs: number;
}

/** The time a request to the authorization server may take when the ToolMux's `oauthRequestTimeoutMs` does not say. */
export const DEFAULT_OAUTH_REQUEST_TIMEOUT_MS = 30_000;
/** The longest `oauthRequestTimeoutMs`: a call waits for a refresh, and nobody waits five minutes for a token. */
export const MAX_OAUTH_REQUEST_TIMEOUT_MS = 300_000;

/**
 * A ToolMux's `oauthRequestTimeoutMs` (undefined: the default), checked: a whole number of
 * milliseconds from 1 to {@link MAX_OAUTH_REQUEST_TIMEOUT_MS}.
 */
export function oauthRequestTimeoutOf(option: unknown): number {
  if (option === undefined) return DEFAULT_OAUTH_REQUEST_TIMEOUT_MS;
  return wholeNumberOf(option, {
    name: 'oauthRequestTimeoutMs',
    code: 'CONFIG_INVALID',
    unit: 'milliseconds',
    min: 1,
    max: MAX_OAUTH_REQUEST_TIMEOUT_MS,
    purpose: "how long one request to an OAuth provider's token or revocation endpoint may take",
    leaveOut: `Leave it out for ${DEFAULT_OAUTH_REQUEST_TIMEOUT_MS}.`,
  });
}

/** A timeout as a message says it: `30 s`, `1.5 s`, `200 ms`. */
export function durationText(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${ms / 1000} s`;
}

/**
 * The most of an authorization server's answer that is read. A token answer is a few kilobytes (a
 * large ID token, tens): a longer one is refused as `invalid_response` without reading on, so that an
 * endpoint that answers hundreds of megabytes, or never stops, costs this much memory at most, and a
 * token too long for any request to carry (servers refuse headers past 8 to 64 KiB) is never stored.
 */
export const TOKEN_RESPONSE_MAX_BYTES = 256 * 1024;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The authorization server as oauth4webapi wants it, built from the toolkit's scheme. */
function authorizationServer(scheme: OAuth2Scheme): oauth.AuthorizationServer {
  return {
    issuer: scheme.issuer ?? new URL(scheme.authorizationUrl).origin,
    authorization_endpoint: scheme.authorizationUrl,
    token_endpoint: scheme.tokenUrl,
    ...(scheme.revocationUrl ? { revocation_endpoint: scheme.revocationUrl } : {}),
    // RFC 9207: with it, oauth4webapi refuses an authorization response without `iss`
    ...(scheme.issuerInCallback ? { authorization_response_iss_parameter_supported: true } : {}),
  };
}

/**
 * The token types oauth4webapi accepts besides `bearer`: those of `scheme.bearerTokenTypes`. A DPoP
 * token (which oauth4webapi would accept) is refused: toolmux asks for none and sends it as no proof.
 */
function tokenTypes(scheme: OAuth2Scheme): { recognizedTokenTypes: oauth.RecognizedTokenTypes } {
  return {
    recognizedTokenTypes: {
      dpop: () => {
        throw new OAuthFailure(
          'invalid_response',
          'the token_type is "DPoP": toolmux sends Bearer tokens only, and a DPoP-bound token does not work as one',
        );
      },
      ...Object.fromEntries(
        (scheme.bearerTokenTypes ?? []).map((type) => [type.toLowerCase(), () => undefined]),
      ),
    },
  };
}

function clientAuthentication(scheme: OAuth2Scheme, client: OAuthClient): oauth.ClientAuth {
  const method = scheme.tokenEndpointAuthMethod ?? (client.clientSecret ? 'client_secret_basic' : 'none');
  if (method === 'none' || !client.clientSecret) return oauth.None();
  return method === 'client_secret_post'
    ? oauth.ClientSecretPost(client.clientSecret)
    : oauth.ClientSecretBasic(client.clientSecret);
}

/**
 * `fetch` for the authorization server's endpoints: the answer is read here, up to
 * {@link TOKEN_RESPONSE_MAX_BYTES}, and handed on whole, so that its size is bounded and a timeout
 * while it arrives is named as one (oauth4webapi would read any length, and take a body cut by the
 * timeout for one that is not JSON). Failures are {@link OAuthFailure}s that name no URL parameter.
 */
function boundedFetch({ fetch, timeoutMs }: OAuthTransport): typeof globalThis.fetch {
  return async (input, init) => {
    // the signal of `requestOptions`: aborted only when toolmux's own timer fired
    const signal = init?.signal ?? undefined;
    const unreachable = (error: unknown, waitingFor: string) => {
      if (signal?.aborted) {
        return new OAuthFailure(
          'network_error',
          `the authorization server did not send ${waitingFor} in time (its requests time out after ${durationText(timeoutMs)}, the ToolMux's oauthRequestTimeoutMs)`,
        );
      }
      const said = error instanceof Error ? error.message : 'unknown error';
      if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) {
        // the application's fetch gave up by itself (its own timeout or abort): not toolmux's timeout
        return new OAuthFailure(
          'network_error',
          `the request for ${waitingFor} of the authorization server ended with the ToolMux fetch's own ${error.name} (${said}), before the ${durationText(timeoutMs)} of the ToolMux's oauthRequestTimeoutMs ran out: check the fetch passed to the ToolMux`,
        );
      }
      return new OAuthFailure('network_error', `the authorization server could not be reached (${said})`);
    };
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      throw unreachable(error, 'an answer');
    }
    const tooLarge = () =>
      new OAuthFailure(
        'invalid_response',
        `the authorization server answered more than ${byteSize(TOKEN_RESPONSE_MAX_BYTES)} (HTTP ${response.status}), more than any token answer holds; it was not read further`,
      );
    if (Number(response.headers.get('content-length')) > TOKEN_RESPONSE_MAX_BYTES) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    let read: { text: string; cut: boolean };
    try {
      read = await responseTextUpTo(response, TOKEN_RESPONSE_MAX_BYTES);
    } catch (error) {
      throw unreachable(error, 'its whole answer');
    }
    if (read.cut) throw tooLarge();
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    headers.delete('content-encoding');
    return new Response(read.text === '' ? null : read.text, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  };
}

/** Plain http is refused (tokens in clear text), except to a server on this machine (tests, dev). */
function requestOptions(scheme: OAuth2Scheme, transport: OAuthTransport): oauth.TokenEndpointRequestOptions {
  const insecure = LOOPBACK_HOSTS.has(new URL(scheme.tokenUrl).hostname);
  return {
    [oauth.customFetch]: boundedFetch(transport),
    [oauth.allowInsecureRequests]: insecure,
    signal: () => AbortSignal.timeout(transport.timeoutMs),
  };
}

/** The authorization URL the user opens, with a fresh state and PKCE verifier to keep server-side. */
export async function startAuthorization(
  scheme: OAuth2Scheme,
  client: OAuthClient,
  redirectUri: string,
): Promise<{ url: URL; state: string; codeVerifier: string | undefined }> {
  const state = oauth.generateRandomState();
  const url = new URL(scheme.authorizationUrl);
  for (const [name, value] of Object.entries(scheme.authorizationParams ?? {})) {
    url.searchParams.set(name, value);
  }
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', redirectUri);
  if (client.scopes.length > 0)
    url.searchParams.set('scope', client.scopes.join(scheme.scopeSeparator ?? ' '));
  url.searchParams.set('state', state);
  let codeVerifier: string | undefined;
  if (scheme.pkce !== false) {
    codeVerifier = oauth.generateRandomCodeVerifier();
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return { url, state, codeVerifier };
}

/**
 * The latest expiry kept: 9999-12-31. An `expires_in` beyond it (oauth4webapi lets any finite
 * number through: 1e300 seconds) means no expiry worth keeping, and a date past it would not be a
 * date at all (JavaScript's end at year 275760, and a store that refuses what it cannot hold).
 */
const LATEST_EXPIRY_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * RFC 6749 (appendix A.12, A.17): an access or refresh token is printable ASCII (`1*VSCHAR`). One with
 * a control character, NUL or any other character cannot be sent in a header: such an answer is
 * refused as `invalid_response`, instead of connecting an account that every call then fails with.
 */
const TOKEN_CHARACTERS = /^[\x20-\x7e]+$/;

function tokenSetOf(response: oauth.TokenEndpointResponse): TokenSet {
  for (const field of ['access_token', 'refresh_token'] as const) {
    const token = response[field];
    if (token !== undefined && !TOKEN_CHARACTERS.test(token)) {
      throw new OAuthFailure(
        'invalid_response',
        `the ${field} holds characters no token holds (a control character, NUL or non-ASCII: RFC 6749 allows printable ASCII only)`,
      );
    }
  }
  // `expires_in: 0` says nothing usable (a token that expired as it was issued): no expiry is kept, and
  // the token is used until the provider refuses it (a CREDENTIALS_REJECTED refreshes it then)
  const expiresAt =
    typeof response.expires_in === 'number' && response.expires_in > 0
      ? Date.now() + response.expires_in * 1000
      : undefined;
  return {
    accessToken: response.access_token,
    tokenType: response.token_type,
    ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
    ...(response.scope ? { scope: response.scope } : {}),
    ...(response.id_token ? { idToken: response.id_token } : {}),
    ...(expiresAt !== undefined && expiresAt <= LATEST_EXPIRY_MS
      ? { expiresAt, lifetimeMs: (response.expires_in as number) * 1000 }
      : {}),
  };
}

/**
 * An oauth4webapi error as an {@link OAuthFailure}: the provider's `error` and `error_description`
 * (or a fixed message), with every secret toolmux knows of the exchange (`secrets`: the client
 * secret, the code and its verifier, the state, the refresh and access tokens) masked in each form a
 * request carried it (see `secretForms`), since a provider may quote them, and cut to a length
 * a status reason, a URL parameter and a log line can carry. A secret the cut would split is masked
 * whole: cutting first would show its start. Nothing else of the error is kept: the `cause` of
 * oauth4webapi's errors can hold the whole token response.
 */
function failureOf(error: unknown, secrets: ReadonlyArray<string | null | undefined>): OAuthFailure {
  const failure = describedFailure(error);
  const known = secrets.flatMap((secret) => (secret ? secretForms(secret) : []));
  // the provider's words go into status reasons (stored), messages and logs: storable text, whole characters
  const safe = (text: string, length: number, fragments: boolean) => {
    const masked = maskSecretsLeading(text, known, length, fragments);
    return storableText(masked.cut ? `${masked.text}…` : masked.text);
  };
  // the error code is a word of the provider's (what the refusal is read from): only a whole secret
  // in it is masked, where the description also loses any run of a secret's characters
  return new OAuthFailure(safe(failure.error, 100, false), safe(failure.description, 300, true));
}

/**
 * The secrets of an OAuth client as its token requests carry them: the client secret, and the
 * credentials of the HTTP Basic authorization header made of it (RFC 6749, 2.3.1), which a provider
 * may quote whole.
 */
function clientSecrets(client: OAuthClient): string[] {
  if (!client.clientSecret) return [];
  const [id, secret] = [client.clientId, client.clientSecret].map((value) => secretForms(value).at(-1)!);
  return [client.clientSecret, basicCredentials(id!, secret!)];
}

function describedFailure(error: unknown): { error: string; description: string } {
  if (error instanceof OAuthFailure) return error;
  if (error instanceof oauth.AuthorizationResponseError || error instanceof oauth.ResponseBodyError) {
    return { error: error.error, description: error.error_description ?? 'no description given' };
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const challenge = error.cause[0];
    return {
      error: String(challenge?.parameters.error ?? 'invalid_client'),
      description: String(challenge?.parameters.error_description ?? 'the token endpoint refused the client'),
    };
  }
  if (error instanceof oauth.OperationProcessingError) {
    // an error answered with HTTP 200 (GitHub and Slack do): the provider's error, not "no access_token"
    const body = (error.cause as { body?: Record<string, unknown> } | undefined)?.body;
    if (typeof body?.error === 'string' && body.error !== '' && body.access_token === undefined) {
      const description = body.error_description;
      return {
        error: body.error,
        description: typeof description === 'string' ? description : 'no description given',
      };
    }
  }
  if (error instanceof oauth.UnsupportedOperationError) {
    const tokenType = (error.cause as { body?: Record<string, unknown> } | undefined)?.body?.token_type;
    if (typeof tokenType === 'string') {
      return {
        error: 'invalid_response',
        description: `the token_type "${tokenType}" is not one toolmux sends (Bearer): a toolkit whose provider names its Bearer tokens so lists the name in its scheme's bearerTokenTypes`,
      };
    }
  }
  if (
    error instanceof oauth.OperationProcessingError ||
    error instanceof oauth.UnsupportedOperationError ||
    error instanceof TypeError // oauth4webapi's checks of what the provider sent (network failures are OAuthFailures)
  ) {
    return { error: 'invalid_response', description: error.message };
  }
  return { error: 'server_error', description: 'the token request failed' };
}

function clip(text: string, length: number): string {
  return text.length > length ? `${leadingText(text, length)}…` : text;
}

/**
 * RFC 9207: an authorization response's `iss` must be the scheme's issuer, and with the scheme's
 * `issuerInCallback` it must be there. oauth4webapi checks the same; this says it in words that name
 * the issuer expected.
 */
function checkIssuer(as: oauth.AuthorizationServer, parameters: URLSearchParams): void {
  const iss = parameters.get('iss');
  const why =
    'it may come from another authorization server (a mix-up attack, RFC 9207), so its code was not used';
  if (iss === null && as.authorization_response_iss_parameter_supported) {
    throw new OAuthFailure(
      'invalid_response',
      `the authorization response has no "iss" parameter, which the toolkit's scheme says its authorization server always sends (issuerInCallback), naming "${as.issuer}": ${why}`,
    );
  }
  if (iss !== null && iss !== as.issuer) {
    throw new OAuthFailure(
      'invalid_response',
      `the authorization response names the issuer ${JSON.stringify(clip(iss, 100))}, not "${as.issuer}", the toolkit scheme's issuer: ${why}`,
    );
  }
}

/**
 * Checks the provider's answer at the callback (`iss`, `error`) and trades the code for tokens. The
 * state was checked by the caller against the stored hash. A failure whose code says the client was
 * refused carries `refusal: 'client_rejected'` (see {@link RefreshRefusal}).
 */
export async function exchangeCode(
  scheme: OAuth2Scheme,
  client: OAuthClient,
  callbackParameters: URLSearchParams,
  options: OAuthTransport & { redirectUri: string; codeVerifier: string | undefined },
): Promise<TokenSet> {
  const as = authorizationServer(scheme);
  const oauthClient: oauth.Client = { client_id: client.clientId };
  try {
    checkIssuer(as, callbackParameters);
    const parameters = oauth.validateAuthResponse(as, oauthClient, callbackParameters, oauth.skipStateCheck);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      oauthClient,
      clientAuthentication(scheme, client),
      parameters,
      options.redirectUri,
      options.codeVerifier ?? oauth.nopkce,
      requestOptions(scheme, options),
    );
    return tokenSetOf(
      await oauth.processAuthorizationCodeResponse(as, oauthClient, response, tokenTypes(scheme)),
    );
  } catch (error) {
    // the provider may quote what it was sent (the state too: it came with the code)
    const failure = failureOf(error, [
      ...clientSecrets(client),
      options.codeVerifier,
      ...callbackParameters.getAll('code'),
      ...callbackParameters.getAll('state'),
    ]);
    // a refused client is the auth config's fault; `invalid_grant` here is a bad code, no dead refresh token
    throw withRefusal(scheme, failure, ['client_rejected']);
  }
}

/**
 * Trades an account's refresh token for new tokens. A failure whose error code says what the refusal
 * means carries it as its `refusal` (see {@link RefreshRefusal}); its words never quote the account's
 * tokens (the access token too, which the provider knows) nor the client secret.
 */
export async function refreshTokens(
  scheme: OAuth2Scheme,
  client: OAuthClient,
  { refreshToken, accessToken }: { refreshToken: string; accessToken: string },
  transport: OAuthTransport,
): Promise<TokenSet> {
  const as = authorizationServer(scheme);
  const oauthClient: oauth.Client = { client_id: client.clientId };
  try {
    const response = await oauth.refreshTokenGrantRequest(
      as,
      oauthClient,
      clientAuthentication(scheme, client),
      refreshToken,
      requestOptions(scheme, transport),
    );
    return tokenSetOf(await oauth.processRefreshTokenResponse(as, oauthClient, response, tokenTypes(scheme)));
  } catch (error) {
    throw withRefusal(scheme, failureOf(error, [...clientSecrets(client), refreshToken, accessToken]), [
      'refresh_token_dead',
      'client_rejected',
    ]);
  }
}

/**
 * Revokes a token at the provider's revocation endpoint (RFC 7009): a refresh token (which most
 * providers take to end the whole grant) or an access token. A failure's words quote neither it, the
 * client secret nor `alsoSecret` (the other tokens of the account, which the provider knows).
 */
export async function revokeToken(
  scheme: OAuth2Scheme & { revocationUrl: string },
  client: OAuthClient,
  token: string,
  hint: 'refresh_token' | 'access_token',
  transport: OAuthTransport & { alsoSecret?: readonly string[] },
): Promise<void> {
  const as = authorizationServer(scheme);
  const options = requestOptions(scheme, transport);
  try {
    const response = await oauth.revocationRequest(
      as,
      { client_id: client.clientId },
      clientAuthentication(scheme, client),
      token,
      {
        ...options,
        [oauth.allowInsecureRequests]: LOOPBACK_HOSTS.has(new URL(scheme.revocationUrl).hostname),
        additionalParameters: { token_type_hint: hint },
      },
    );
    await oauth.processRevocationResponse(response);
  } catch (error) {
    throw failureOf(error, [...clientSecrets(client), token, ...(transport.alsoSecret ?? [])]);
  }
}
