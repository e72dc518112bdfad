import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { databaseBackends, type OpenedDatabase, quiet } from '../test/auth-fixtures.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { keyIdOf, Vault } from './vault.js';

function thrown(work: () => unknown): ToolMuxError {
  try {
    work();
  } catch (error) {
    expect(ToolMuxError.isInstance(error)).toBe(true);
    return error as ToolMuxError;
  }
  throw new Error('expected a ToolMuxError');
}

describe('Vault', () => {
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);

  it('encrypts with AES-256-GCM under the current key, a fresh IV each time', () => {
    const vault = new Vault(keyA);
    const first = vault.seal('ca_1', 'sk_live_secret');
    const second = vault.seal('ca_1', 'sk_live_secret');
    expect(first.keyId).toBe(keyIdOf(keyA));
    expect(first.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(first.ciphertext).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(first.ciphertext).not.toBe(second.ciphertext);
    expect(first.ciphertext).not.toContain('sk_live_secret');
    expect(vault.open('ca_1', first)).toBe('sk_live_secret');
    expect(vault.openJson('ca_2', vault.sealJson('ca_2', { a: [1, 'ü'] }))).toEqual({ a: [1, 'ü'] });
  });

  it('binds a ciphertext to its record: moved to another row, or altered, it does not decrypt', () => {
    const vault = new Vault(keyA);
    const sealed = vault.seal('ca_1', 'token');
    expect(thrown(() => vault.open('ca_2', sealed)).code).toBe('SECRET_DECRYPTION_FAILED');
    const raw = Buffer.from(sealed.ciphertext.slice(3), 'base64url');
    raw[raw.length - 20]! ^= 1;
    const altered = { ...sealed, ciphertext: `v1.${raw.toString('base64url')}` };
    const error = thrown(() => vault.open('ca_1', altered));
    expect(error.code).toBe('SECRET_DECRYPTION_FAILED');
    expect(error.message).toContain('ca_1');
    expect(thrown(() => vault.open('ca_1', { ...sealed, ciphertext: 'garbage' })).code).toBe(
      'SECRET_DECRYPTION_FAILED',
    );
  });

  it('decrypts with previous keys, and names the missing key otherwise', () => {
    const sealed = new Vault(keyA).seal('ac_1', 'client-secret');
    expect(new Vault(keyB, [keyA]).open('ac_1', sealed)).toBe('client-secret');
    const error = thrown(() => new Vault(keyB).open('ac_1', sealed));
    expect(error.code).toBe('SECRET_KEY_MISSING');
    expect(error.message).toContain(keyIdOf(keyA));
    expect(error.message).toContain('previousSecretKeys');
  });

  it('says a record under a newer key (another instance rotated first) needs that key here, not an old one', () => {
    // an instance still on keyA meets a record another instance wrote under keyB
    const sealed = new Vault(keyB, [keyA]).seal('ca_1', 'token');
    const error = thrown(() => new Vault(keyA).open('ca_1', sealed));
    expect(error.code).toBe('SECRET_KEY_MISSING');
    expect(error.message).toContain(`secret key ${keyIdOf(keyB)}`);
    expect(error.message).toContain(
      'a newer key, which another instance already encrypts with, as secretKey',
    );
    expect(error.message).toContain('`toolmux keys rotate`');
  });

  it('never shows a key in JSON or inspect()', () => {
    const vault = new Vault(keyA, [keyB]);
    const shown = `${JSON.stringify(vault)} ${inspect(vault, { showHidden: true, depth: 10 })}`;
    for (const key of [keyA, keyB]) {
      expect(shown).not.toContain(key.toString('base64'));
      expect(shown).not.toContain(key.toString('hex'));
    }
    expect(vault.keyIds).toEqual([keyIdOf(keyA), keyIdOf(keyB)]);
  });
});

const backends = await databaseBackends();

describe.each(backends)('key rotation on $name', ({ skipReason, open }) => {
  let database: OpenedDatabase;
  const opened: ToolMux[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((mux) => mux.close()));
    await database?.cleanup();
  });

  function mux(secretKey: string, previousSecretKeys?: string[]) {
    const made = new ToolMux({
      toolkits: createSampleToolkits().toolkits,
      store: database.spec,
      secretKey,
      previousSecretKeys,
      logger: quiet,
    });
    opened.push(made);
    return made;
  }

  it.skipIf(skipReason !== undefined)(
    're-encrypts every record under the new key; the old key is needed until then',
    async () => {
      database = await open();
      const keyA = randomBytes(32).toString('base64');
      const keyB = randomBytes(32).toString('hex');
      const withA = mux(keyA);
      const config = await withA.authConfigs.create('mail', { type: 'api_key' });
      const accounts = [];
      for (let index = 0; index < 7; index++) {
        accounts.push(
          await withA.connectedAccounts.create(`user_${index}`, config.id, { apiKey: `key-number-${index}` }),
        );
      }
      const run = async (instance: ToolMux, userId: string) => {
        const session = await instance.create(userId, {
          toolkits: ['mail'],
          authConfigs: { mail: config.id },
        });
        return session.execute('MAIL_SEND_EMAIL', { to: 'a@b.c', subject: 's', body: 'b' });
      };
      expect((await run(withA, 'user_0')).successful).toBe(true);
      await withA.close();

      // the new key alone cannot read what the old one wrote
      const withoutA = mux(keyB);
      const failed = await run(withoutA, 'user_1');
      expect(failed).toMatchObject({ successful: false, code: 'SECRET_KEY_MISSING' });
      expect(failed.error).toContain('previousSecretKeys');

      // with the old key as a previous one, reads work before, during and after rotation
      const rotating = mux(keyB, [keyA]);
      expect((await run(rotating, 'user_2')).successful).toBe(true);
      const keyIdA = keyIdOf(Buffer.from(keyA, 'base64'));
      const keyIdB = keyIdOf(Buffer.from(keyB, 'hex'));
      const keyIds = async () =>
        (await database.rows('SELECT key_id FROM toolmux_connected_accounts')).map((row) => row.key_id);
      expect(new Set(await keyIds())).toEqual(new Set([keyIdA]));
      const [rotation, ...reads] = await Promise.all([
        rotating.vault.rotate({ batchSize: 2 }),
        ...accounts.slice(3).map((account) => run(rotating, account.userId)),
      ]);
      for (const read of reads) expect(read.successful, read.error ?? '').toBe(true);
      expect(rotation.reencrypted + rotation.skipped).toBe(7);
      expect(new Set(await keyIds())).toEqual(new Set([keyIdB]));
      expect(await rotating.vault.rotate()).toEqual({ reencrypted: 0, skipped: 0 });

      // after rotation the old key is no longer needed
      const onlyB = mux(keyB);
      for (const account of accounts) expect((await run(onlyB, account.userId)).successful).toBe(true);
    },
  );
});
