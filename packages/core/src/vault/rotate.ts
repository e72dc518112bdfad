import { ToolMuxError } from '../errors.js';
import type { SealedSecretKind, Store } from '../store/types.js';
import type { Vault } from './vault.js';

/** Every kind of record that holds an encrypted secret. */
export const SEALED_SECRET_KINDS: readonly SealedSecretKind[] = [
  'auth_config',
  'connected_account',
  'connection_request',
];

export interface RotationResult {
  /** Records now encrypted under the current key. */
  reencrypted: number;
  /** Records that changed while they were re-encrypted (a token refresh wrote them anew meanwhile). */
  skipped: number;
}

/** A record {@link rotateSecrets} could not decrypt (with `onFailure`): left as it is. */
export interface RotationFailure {
  kind: SealedSecretKind;
  id: string;
  /** SECRET_KEY_MISSING or SECRET_DECRYPTION_FAILED, naming the record and the key id (never a key). */
  error: ToolMuxError;
}

/**
 * Re-encrypts every record that is not under the vault's current key, in batches of `batchSize`. Each
 * record is replaced by a conditional update (only if it still holds the ciphertext that was read), so
 * it runs beside live traffic: reads decrypt either form throughout (the old key is among the vault's
 * previous keys), and a record rewritten meanwhile (a token refresh) is left as the writer left it.
 * Throws SECRET_KEY_MISSING when a record's key is not known at all.
 */
export async function rotateSecrets(
  store: Store,
  vault: Vault,
  options: {
    batchSize?: number;
    /** When given, a record that does not decrypt is reported here and left, and the rotation goes on; else it throws. */
    onFailure?: (failure: RotationFailure) => void;
  } = {},
): Promise<RotationResult> {
  const batchSize = options.batchSize ?? 100;
  const result: RotationResult = { reencrypted: 0, skipped: 0 };
  for (const kind of SEALED_SECRET_KINDS) {
    let afterId: string | undefined;
    for (;;) {
      const batch = await store.listSealedSecrets({ kind, notKeyId: vault.keyId, afterId, limit: batchSize });
      if (batch.length === 0) break;
      for (const record of batch) {
        let next: ReturnType<Vault['seal']>;
        try {
          next = vault.seal(record.id, vault.open(record.id, record.secret));
        } catch (error) {
          if (!options.onFailure || !ToolMuxError.isInstance(error)) throw error;
          options.onFailure({ kind, id: record.id, error });
          continue;
        }
        if (await store.replaceSealedSecret(kind, record.id, record.secret, next)) result.reencrypted++;
        else result.skipped++;
      }
      afterId = batch[batch.length - 1]!.id;
    }
  }
  return result;
}
