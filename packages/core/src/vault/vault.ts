import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { inspect } from 'node:util';
import { ToolMuxError } from '../errors.js';
import type { SealedSecret } from '../store/types.js';

const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The id stored beside every encrypted record: the first 8 bytes of SHA-256 of the secret key, in
 * hex. It names the key without revealing it, so a record says which key opens it.
 */
export function keyIdOf(secretKey: Buffer): string {
  return createHash('sha256').update(secretKey).digest().subarray(0, 8).toString('hex');
}

/** The AES key for credentials, derived from the secret key (which also derives session tokens). */
function encryptionKey(secretKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'toolmux.vault.v1', 32));
}

/** The key that signs short values handed to browsers (see {@link Vault.mac}), derived from the secret key. */
function macKey(secretKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'toolmux.mac.v1', 32));
}

/**
 * Encrypts credentials at rest: AES-256-GCM with a random 96-bit IV per write, the record's id as
 * additional authenticated data (a ciphertext moved to another row does not decrypt), and the key id
 * stored beside it. New writes use the current key; `previousKeys` still decrypt what they wrote,
 * until `rotateSecrets` has re-encrypted every record under the current key.
 */
export class Vault {
  /** Id of the key new records are encrypted with. */
  readonly keyId: string;
  readonly #keys = new Map<string, Buffer>();
  /** The MAC keys of the same secret keys, the current one first. */
  readonly #macKeys: Buffer[] = [];

  constructor(secretKey: Buffer, previousKeys: readonly Buffer[] = []) {
    this.keyId = keyIdOf(secretKey);
    this.#keys.set(this.keyId, encryptionKey(secretKey));
    this.#macKeys.push(macKey(secretKey));
    for (const key of previousKeys) {
      const id = keyIdOf(key);
      if (this.#keys.has(id)) continue;
      this.#keys.set(id, encryptionKey(key));
      this.#macKeys.push(macKey(key));
    }
  }

  /**
   * An HMAC-SHA-256 (base64url) of `purpose` and `value` under the current key: a value a browser
   * carries (a cookie) that only a holder of the secret key can make. `purpose` keeps the values of
   * one use from passing for another's.
   */
  mac(purpose: string, value: string): string {
    return createHmac('sha256', this.#macKeys[0]!).update(`${purpose}\n${value}`).digest('base64url');
  }

  /** Whether `candidate` is {@link Vault.mac} of `purpose` and `value` under any configured key (constant time). */
  macMatches(purpose: string, value: string, candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    const given = Buffer.from(candidate);
    let matches = false;
    for (const key of this.#macKeys) {
      const expected = Buffer.from(
        createHmac('sha256', key).update(`${purpose}\n${value}`).digest('base64url'),
      );
      if (expected.length === given.length && timingSafeEqual(expected, given)) matches = true;
    }
    return matches;
  }

  /** Ids of the keys this vault can decrypt with: the current one first. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** Encrypts `plaintext` for the record `recordId` under the current key. */
  seal(recordId: string, plaintext: string): SealedSecret {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.keyId)!, iv);
    cipher.setAAD(Buffer.from(recordId));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return {
      keyId: this.keyId,
      ciphertext: `${FORMAT}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`,
    };
  }

  /** Decrypts what {@link Vault.seal} wrote for `recordId`. Throws SECRET_KEY_MISSING / SECRET_DECRYPTION_FAILED. */
  open(recordId: string, sealed: SealedSecret): string {
    const key = this.#keys.get(sealed.keyId);
    if (!key) {
      throw new ToolMuxError({
        code: 'SECRET_KEY_MISSING',
        message:
          `The credentials of ${recordId} were encrypted with secret key ${sealed.keyId}, which is neither the ` +
          `current secret key (${this.keyId}) nor one of previousSecretKeys. Give this instance that key: an older ` +
          'key in previousSecretKeys (or TOOLMUX_PREVIOUS_SECRET_KEYS) until a rotation (mux.vault.rotate(), ' +
          '`toolmux keys rotate`) has re-encrypted every record; a newer key, which another instance already ' +
          'encrypts with, as secretKey (TOOLMUX_SECRET_KEY) or in previousSecretKeys. Every instance on one store ' +
          'needs every key its records are under.',
        details: { recordId, keyId: sealed.keyId },
      });
    }
    const [format, encoded] = sealed.ciphertext.split('.', 2);
    const raw = Buffer.from(encoded ?? '', 'base64url');
    try {
      if (format !== FORMAT || raw.length < IV_BYTES + TAG_BYTES) throw new Error('malformed');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(recordId));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new ToolMuxError({
        code: 'SECRET_DECRYPTION_FAILED',
        message: `The credentials of ${recordId} do not decrypt with secret key ${sealed.keyId}: the stored record was altered or copied from another row. Connect the account again.`,
        details: { recordId, keyId: sealed.keyId },
      });
    }
  }

  sealJson(recordId: string, value: unknown): SealedSecret {
    return this.seal(recordId, JSON.stringify(value));
  }

  openJson<T>(recordId: string, sealed: SealedSecret): T {
    return JSON.parse(this.open(recordId, sealed)) as T;
  }

  toJSON(): { keyId: string; keyIds: string[] } {
    return { keyId: this.keyId, keyIds: this.keyIds };
  }

  [inspect.custom](): string {
    return `Vault ${inspect(this.toJSON())}`;
  }
}
