import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ToolMuxError } from '../errors.js';
import { readOrCreateKeyFile } from './key-file.js';
import type { Logger } from './logger.js';

/**
 * Parses a 256-bit key given as 64 hex characters or base64 / base64url of 32 bytes.
 * Generate one with `openssl rand -base64 32`.
 */
export function parseSecretKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    throw new ToolMuxError({
      code: 'SECRET_KEY_INVALID',
      message: `The secret key from ${source} is not 32 bytes (got ${key.length}). Use 64 hex characters or base64 of 32 random bytes, e.g. the output of \`openssl rand -base64 32\`.`,
    });
  }
  return key;
}

/**
 * The key given by configuration: the `secretKey` option, else `TOOLMUX_SECRET_KEY`; undefined when
 * neither is set. `new ToolMux()` reads it to refuse a malformed one where it was written.
 */
export function configuredSecretKey(secretKey: string | undefined): Buffer | undefined {
  if (secretKey) return parseSecretKey(secretKey, 'the secretKey option');
  if (process.env.TOOLMUX_SECRET_KEY)
    return parseSecretKey(process.env.TOOLMUX_SECRET_KEY, 'TOOLMUX_SECRET_KEY');
  return undefined;
}

/**
 * The key that encrypts credentials and derives session tokens: `secretKey` option, else
 * `TOOLMUX_SECRET_KEY`, else (embedded SQLite only) a key file created once beside the database
 * with mode 0600 and a warning. A shared PostgreSQL store needs an explicit key, or each instance
 * would invent its own.
 */
export function resolveSecretKey(options: {
  secretKey: string | undefined;
  keyFile: string | undefined;
  ephemeral: boolean;
  logger: Logger;
}): Buffer {
  const { secretKey, keyFile, logger } = options;
  const configured = configuredSecretKey(secretKey);
  if (configured) return configured;
  if (options.ephemeral) return randomBytes(32);
  if (!keyFile) {
    throw new ToolMuxError({
      code: 'SECRET_KEY_INVALID',
      message:
        'A PostgreSQL store needs a secret key shared by every instance: set TOOLMUX_SECRET_KEY (e.g. `openssl rand -base64 32`) or pass secretKey.',
    });
  }
  const file = readOrCreateKeyFile(
    keyFile,
    () => `${randomBytes(32).toString('base64')}\n`,
    'TOOLMUX_SECRET_KEY (the secretKey option)',
  );
  const key = parseSecretKey(file.contents, keyFile);
  if (!file.created) return key; // another process created it meanwhile
  logger.warn(
    `toolmux: created a secret key at ${keyFile} (mode 0600). In production set TOOLMUX_SECRET_KEY instead; whoever reads that file can decrypt stored credentials.`,
  );
  return key;
}

const TOKEN_PREFIX = 'tmx_st_';

/**
 * The bearer token of a session: derived from the secret key, the session id and the token version
 * (which a rotation increments), so it is never stored. Version 0 is the token of a session that was
 * never rotated.
 */
export function deriveSessionToken(key: Buffer, sessionId: string, version = 0): string {
  const input =
    version === 0 ? `toolmux.session-token\0${sessionId}` : `toolmux.session-token\0${sessionId}\0${version}`;
  return TOKEN_PREFIX + createHmac('sha256', key).update(input).digest('base64url');
}

/** The form of every token {@link deriveSessionToken} makes: the prefix, then 32 bytes in base64url. */
const SESSION_TOKEN_FORM = /^tmx_st_[A-Za-z0-9_-]{43}$/;

/** Whether `token` has the form of a session token (one without it is no session's, whatever the key). */
export function hasSessionTokenForm(token: string): boolean {
  return SESSION_TOKEN_FORM.test(token);
}

/**
 * Whether `token` is the session token of `sessionId` at `version` under one of `keys` (the current
 * secret key and the previous ones: during a rolling key change a client holds a token another
 * instance derived under the key it had), compared in constant time (the time depends on neither how
 * much of it matches, nor on which key matches, nor on the session). A token without the form of one
 * is false before any work.
 */
export function sessionTokenMatches(
  keys: readonly Buffer[],
  sessionId: string,
  version: number,
  token: string,
): boolean {
  if (!hasSessionTokenForm(token)) return false;
  const presented = Buffer.from(token);
  let matches = false;
  for (const key of keys) {
    // both are ASCII of the same length once the form is checked; every key is tried, whatever matched
    const match = timingSafeEqual(presented, Buffer.from(deriveSessionToken(key, sessionId, version)));
    matches = match || matches;
  }
  return matches;
}

/** SHA-256 hex of a token: what the store keeps. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time check of a presented token against a stored hash. */
export function tokenMatches(token: string, storedHash: string): boolean {
  const presented = Buffer.from(hashToken(token), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
