import * as oauth from 'oauth4webapi';
import type { OAuth2Scheme } from '../catalog/types.js';

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
}

/**
 * An OAuth failure, with the provider's error code (`invalid_grant`, `access_denied`, …) and a
 * description that is safe to store and show: it never carries the provider's response body, which
 * may hold tokens.
 */
export class OAuthFailure extends Error {
  override readonly name = 'OAuthFailure';
  constructor(
    /** The OAuth `error` code, or `server_error` / `network_error` / `invalid_response`. */
    readonly error: string,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
  }
}

/** Time a token request may take before it is given up. */
const TOKEN_REQUEST_TIMEOUT_MS = 30_000;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The authorization server as oauth4webapi wants it, built from the toolkit's scheme. */
function authorizationServer(scheme: OAuth2Scheme): oauth.AuthorizationServer {
  return {
    issuer: scheme.issuer ?? new URL(scheme.authorizationUrl).origin,
    authorization_endpoint: scheme.authorizationUrl,
    token_endpoint: scheme.tokenUrl,
    ...(scheme.revocationUrl ? { revocation_endpoint: scheme.revocationUrl } : {}),
  };
}

function clientAuthentication(scheme: OAuth2Scheme, client: OAuthClient): oauth.ClientAuth {
  const method = scheme.tokenEndpointAuthMethod ?? (client.clientSecret ? 'client_secret_basic' : 'none');
  if (method === 'none' || !client.clientSecret) return oauth.None();
  return method === 'client_secret_post'
    ? oauth.ClientSecretPost(client.clientSecret)
    : oauth.ClientSecretBasic(client.clientSecret);
}

/** Plain http is refused (tokens in clear text), except to a server on this machine (tests, dev). */
function requestOptions(
  scheme: OAuth2Scheme,
  fetch: typeof globalThis.fetch,
): oauth.TokenEndpointRequestOptions {
  const insecure = LOOPBACK_HOSTS.has(new URL(scheme.tokenUrl).hostname);
  return {
    [oauth.customFetch]: fetch,
    [oauth.allowInsecureRequests]: insecure,
    signal: () => AbortSignal.timeout(TOKEN_REQUEST_TIMEOUT_MS),
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

function tokenSetOf(response: oauth.TokenEndpointResponse): TokenSet {
  const expiresAt =
    typeof response.expires_in === 'number' ? Date.now() + response.expires_in * 1000 : undefined;
  return {
    accessToken: response.access_token,
    tokenType: response.token_type,
    ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
    ...(response.scope ? { scope: response.scope } : {}),
    ...(response.id_token ? { idToken: response.id_token } : {}),
    ...(expiresAt !== undefined && expiresAt <= LATEST_EXPIRY_MS ? { expiresAt } : {}),
  };
}

/**
 * An oauth4webapi error as an {@link OAuthFailure}. Only the fixed message and the provider's
 * `error` / `error_description` are kept: the `cause` of oauth4webapi's errors can hold the whole
 * token response.
 */
function failureOf(error: unknown): OAuthFailure {
  if (error instanceof OAuthFailure) return error;
  if (error instanceof oauth.AuthorizationResponseError || error instanceof oauth.ResponseBodyError) {
    return new OAuthFailure(error.error, clip(error.error_description ?? 'no description given'));
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const challenge = error.cause[0];
    return new OAuthFailure(
      String(challenge?.parameters.error ?? 'invalid_client'),
      clip(String(challenge?.parameters.error_description ?? 'the token endpoint refused the client')),
    );
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'TypeError')) {
    return new OAuthFailure(
      'network_error',
      clip(`the token endpoint could not be reached (${error.message})`),
    );
  }
  if (error instanceof oauth.OperationProcessingError || error instanceof oauth.UnsupportedOperationError) {
    return new OAuthFailure('invalid_response', clip(error.message));
  }
  return new OAuthFailure('server_error', 'the token request failed');
}

function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/**
 * Checks the provider's answer at the callback (`iss`, `error`) and trades the code for tokens. The
 * state was checked by the caller against the stored hash.
 */
export async function exchangeCode(
  scheme: OAuth2Scheme,
  client: OAuthClient,
  callbackParameters: URLSearchParams,
  options: { redirectUri: string; codeVerifier: string | undefined; fetch: typeof globalThis.fetch },
): Promise<TokenSet> {
  const as = authorizationServer(scheme);
  const oauthClient: oauth.Client = { client_id: client.clientId };
  try {
    const parameters = oauth.validateAuthResponse(as, oauthClient, callbackParameters, oauth.skipStateCheck);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      oauthClient,
      clientAuthentication(scheme, client),
      parameters,
      options.redirectUri,
      options.codeVerifier ?? oauth.nopkce,
      requestOptions(scheme, options.fetch),
    );
    return tokenSetOf(await oauth.processAuthorizationCodeResponse(as, oauthClient, response));
  } catch (error) {
    throw failureOf(error);
  }
}

/** Trades a refresh token for new tokens. An `invalid_grant` failure means the user must reconnect. */
export async function refreshTokens(
  scheme: OAuth2Scheme,
  client: OAuthClient,
  refreshToken: string,
  fetch: typeof globalThis.fetch,
): Promise<TokenSet> {
  const as = authorizationServer(scheme);
  const oauthClient: oauth.Client = { client_id: client.clientId };
  try {
    const response = await oauth.refreshTokenGrantRequest(
      as,
      oauthClient,
      clientAuthentication(scheme, client),
      refreshToken,
      requestOptions(scheme, fetch),
    );
    return tokenSetOf(await oauth.processRefreshTokenResponse(as, oauthClient, response));
  } catch (error) {
    throw failureOf(error);
  }
}

/**
 * Revokes a token at the provider's revocation endpoint (RFC 7009): a refresh token (which most
 * providers take to end the whole grant), then the access token.
 */
export async function revokeToken(
  scheme: OAuth2Scheme & { revocationUrl: string },
  client: OAuthClient,
  token: string,
  hint: 'refresh_token' | 'access_token',
  fetch: typeof globalThis.fetch,
): Promise<void> {
  const as = authorizationServer(scheme);
  const options = requestOptions(scheme, fetch);
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
    throw failureOf(error);
  }
}
