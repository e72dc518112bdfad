/**
 * A store spec as text: how it may be shown (its secrets masked), and whether `pg` can read a
 * PostgreSQL URL. Every message, log line and error detail that names a store spec shows it through
 * {@link shownStoreSpec}.
 */

/** Query parameters whose values are secrets (`password`, `sslpassword`, …); paths such as `sslkey` are shown. */
const SECRET_PARAMETER = /pass|pwd|secret|token/i;

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * A store spec as it may be shown in messages and logs: the password of a URL's userinfo and the
 * value of every password-like query parameter (`password`, `sslpassword`) replaced by `***`.
 *
 * The userinfo ends where a URL parser ends it (the last `@` before the host). When that is in
 * doubt — the spec is no URL, or an `@` follows the host (a password holding an unencoded `/`, `?`
 * or `#`, which moves where a parser sees the host) — everything between `://` and the last `@` is
 * masked as well, and the parameters after it. A spec that is no URL (`sqlite:…`, a path) is
 * returned as it is.
 */
export function shownStoreSpec(spec: string): string {
  const scheme = URL_SCHEME.exec(spec)?.[0];
  if (scheme === undefined) return spec;
  const rest = spec.slice(scheme.length);
  const masked = new Array<boolean>(rest.length).fill(false);
  const mask = (from: number, to: number) => masked.fill(true, from, to);
  const authorityEnd = rest.search(/[/?#]/);
  const authorityLength = authorityEnd < 0 ? rest.length : authorityEnd;
  // as a URL parser reads it: userinfo up to the authority's last @, a password after its first :
  const userinfoEnd = rest.lastIndexOf('@', authorityLength - 1);
  const colon = userinfoEnd < 0 ? -1 : rest.indexOf(':');
  if (colon >= 0 && colon < userinfoEnd) mask(colon + 1, userinfoEnd);
  maskSecretParameters(rest, rest.indexOf('?', authorityLength), mask);
  // in doubt: everything up to the last @, and the parameters after it
  const lastAt = rest.lastIndexOf('@');
  if (lastAt >= 0 && (lastAt >= authorityLength || urlOf(spec) === undefined)) {
    mask(0, lastAt);
    maskSecretParameters(rest, rest.indexOf('?', lastAt), mask);
  }
  let shown = scheme;
  for (let index = 0; index < rest.length; index++) {
    if (!masked[index]) shown += rest[index];
    else if (index === 0 || !masked[index - 1]) shown += '***';
  }
  return shown;
}

/**
 * Masks the value of every password-like parameter of the query that starts at `start` (a `?`; -1
 * for none). Parameters are split at `&` only (a `#` in a password's value stays inside what is
 * masked), and their names are decoded as `URLSearchParams` (and so `pg`) decodes them
 * (`pass%77ord` is `password`). A piece without `=` right after a masked value is masked too: the
 * rest of a password holding an `&`.
 */
function maskSecretParameters(text: string, start: number, mask: (from: number, to: number) => void): void {
  if (start < 0) return;
  let masking = false;
  let position = start + 1;
  for (const parameter of text.slice(start + 1).split('&')) {
    const equals = parameter.indexOf('=');
    if (equals < 0) {
      if (masking && parameter !== '') mask(position, position + parameter.length);
    } else {
      const name = parameter.slice(0, equals);
      const decoded = new URLSearchParams(`${name}=`).keys().next().value ?? name;
      masking = SECRET_PARAMETER.test(decoded) || SECRET_PARAMETER.test(name);
      if (masking && equals + 1 < parameter.length) mask(position + equals + 1, position + parameter.length);
    }
    position += parameter.length + 1;
  }
}

/**
 * The URL `pg` (pg-connection-string) reads from a connection string, read the way it reads it: a
 * string with a space or a `%` that starts no escape is passed through `encodeURI` first, and one
 * without a host (`postgres://user@/db?host=/run/postgresql`) gets a stand-in host. Undefined when
 * it is no URL.
 */
function urlOf(spec: string): { url: URL; hasHost: boolean } | undefined {
  let text = spec;
  try {
    if (/ |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(text)) text = encodeURI(text).replace(/%25(\d\d)/g, '%$1');
  } catch {
    return undefined; // a lone surrogate
  }
  try {
    return { url: new URL(text, 'postgres://base'), hasHost: true };
  } catch {}
  try {
    return { url: new URL(text.replace('@/', '@___DUMMY___/'), 'postgres://base'), hasHost: false };
  } catch {
    return undefined;
  }
}

const ENCODE_HINT =
  'percent-encode the user name and password (encodeURIComponent: "/" is %2F, "@" %40, "?" %3F, "#" %23, ":" %3A, "%" %25, a space %20)';

/**
 * Why `pg` cannot read `spec` as the PostgreSQL URL it means, or undefined when it can: no URL at all
 * (`pg` would throw "Invalid URL" when it connects), a `%` that starts no valid escape in a part `pg`
 * decodes, or an `@` in the database name (a password with an unencoded `/`: `pg` would take the
 * text before it as the host). The answer names no part of the spec.
 */
export function postgresSpecProblem(spec: string): string | undefined {
  const parsed = urlOf(spec);
  if (parsed === undefined) {
    return `it is not a URL that can be read (a user name or password holding "/", "?", "#" or "@" that is not percent-encoded, or a port that is not a number): ${ENCODE_HINT}`;
  }
  const { url, hasHost } = parsed;
  if (url.pathname.includes('@')) {
    return `it has an "@" after the host, so the text before it would be taken as the host and the rest as the database name (a password holding "/", "?" or "#" that is not percent-encoded): ${ENCODE_HINT}`;
  }
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    if (hasHost) decodeURIComponent(url.hostname);
    if (url.pathname.length > 1) decodeURI(url.pathname.slice(1));
  } catch {
    return `a "%" in it starts no valid escape (or escapes bytes that are no UTF-8 text): ${ENCODE_HINT}`;
  }
  return undefined;
}
