/** The shortest project API key the server takes. */
export const MIN_API_KEY_LENGTH = 16;

/**
 * A check of a presented secret against the project API key that takes the same time whatever was
 * presented: every character of the key is compared (no early exit at the first difference), and
 * the time depends on the key's length only, never on how much of the presented text matches or on
 * its length. Equal exactly when the two strings are equal.
 *
 * Every REST request is checked: this is a loop over the key's characters, where a SHA-256 of each
 * presented header (to compare equal-length digests with `crypto.timingSafeEqual`) cost a native
 * call and a Buffer made for the digest each time (about 5% of a small REST answer's CPU).
 */
export function secretMatcher(secret: string): (presented: string) => boolean {
  const length = secret.length;
  const codes = new Uint16Array(length);
  for (let index = 0; index < length; index++) codes[index] = secret.charCodeAt(index);
  return (presented) => {
    // a length that differs is a difference too, found without stopping early
    let difference = presented.length ^ length;
    for (let index = 0; index < length; index++) {
      // past the end of `presented`, charCodeAt is NaN, which `^` reads as 0
      difference |= presented.charCodeAt(index) ^ codes[index]!;
    }
    return difference === 0;
  };
}

/**
 * The credentials of an `Authorization` header of the Bearer scheme: what follows the scheme (in any
 * case) and one or more spaces (RFC 9110, 11.1 and 11.4: `auth-scheme 1*SP token68`), or undefined
 * for another scheme or none. The REST API, the MCP endpoint and the Composio routes all read the
 * header this way: `Bearer  <token>` (two spaces) was a wrong token on MCP and a wrong key on the
 * Composio routes, though right on /api/v1.
 */
export function bearerCredentials(authorization: string | null | undefined): string | undefined {
  const scheme = /^bearer +/i.exec(authorization ?? '');
  if (scheme === null) return undefined;
  const credentials = authorization!.slice(scheme[0].length);
  return credentials === '' ? undefined : credentials;
}
