import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** What the hosted connect page needs to know about one connection. */
export type ConnectLinkPayload =
  | {
      kind: 'oauth2';
      /** The connection request id (`cr_…`), also in the page's path. */
      id: string;
      userId: string;
      toolkit: string;
      /** The INITIATED account the OAuth callback fills. */
      connectedAccountId: string;
      /** The provider's authorization URL (carries the OAuth state). */
      authorizationUrl: string;
      /** Where "back to the application" links point. */
      callbackUrl: string;
      /** Epoch milliseconds. */
      expiresAt: number;
    }
  | {
      kind: 'fields';
      id: string;
      userId: string;
      toolkit: string;
      /** The api_key / bearer / basic auth config the account is created on. */
      authConfigId: string;
      /** Its type: which fields the form asks for. */
      type: string;
      /** Where to send the user back (already checked by whoever made the link). */
      callbackUrl: string;
      expiresAt: number;
    };

/**
 * Seals connect-page links: the page's state travels in the link itself, encrypted and authenticated
 * (AES-256-GCM, bound to the request id in the path) with a key derived from the project API key, so
 * any instance sharing that key can render the page and none needs a table of its own.
 *
 * This stands in until core can look up a connection request by id (see the README, "Needs from
 * core"): then the link is just `/connect/:requestId`.
 */
export class ConnectLinks {
  readonly #key: Buffer;

  constructor(apiKey: string) {
    this.#key = Buffer.from(hkdfSync('sha256', apiKey, 'toolmux', 'toolmux.connect-link.v1', 32));
  }

  /** The sealed token for the `t` query parameter. */
  seal(payload: ConnectLinkPayload): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(payload.id));
    const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The payload of a token made for `id`, or undefined when it was altered, made for another id or by another key. */
  open(id: string, token: string): ConnectLinkPayload | undefined {
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < 12 + 16 + 2) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      const text = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
      const payload = JSON.parse(text.toString('utf8')) as ConnectLinkPayload;
      return payload.id === id ? payload : undefined;
    } catch {
      return undefined;
    }
  }
}
