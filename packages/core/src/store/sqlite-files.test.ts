import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quiet } from '../test/auth-fixtures.js';
import { ToolMux } from '../toolmux.js';
import { readOrCreateKeyFile } from '../util/key-file.js';
import { SqliteStore } from './sqlite.js';

const root = mkdtempSync(join(tmpdir(), 'toolmux-sqlite-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;

describe('SQLite files', () => {
  it('are 0600 (database, -wal, -shm) in directories created 0700, like the key files', async () => {
    const directory = join(root, 'fresh', 'nested');
    const mux = new ToolMux({ store: `sqlite:${join(directory, 'toolmux.db')}`, logger: quiet });
    try {
      await mux.create('user_1'); // opens, migrates and writes: the -wal and -shm files exist now
      for (const file of ['toolmux.db', 'toolmux.db-wal', 'toolmux.db-shm', 'secret.key']) {
        expect(existsSync(join(directory, file)), file).toBe(true);
        expect(mode(join(directory, file)), file).toBe(0o600);
      }
      expect(mode(directory)).toBe(0o700);
      expect(mode(join(root, 'fresh'))).toBe(0o700);
    } finally {
      await mux.close();
    }
  });

  it('narrows an existing database and its -wal / -shm that others could read', async () => {
    const directory = join(root, 'existing');
    mkdirSync(directory);
    chmodSync(directory, 0o755);
    const path = join(directory, 'old.db');
    const first = new SqliteStore({ path });
    await first.migrate();
    await first.close();
    writeFileSync(`${path}-wal`, '');
    for (const file of [path, `${path}-wal`]) chmodSync(file, 0o644);
    const store = new SqliteStore({ path });
    try {
      await store.migrate();
      expect(mode(path)).toBe(0o600);
      expect(mode(`${path}-wal`)).toBe(0o600);
      // a directory the operator made is theirs: left as it is
      expect(mode(directory)).toBe(0o755);
    } finally {
      await store.close();
    }
  });

  it('narrows existing key files that others could read, and leaves their keys as they were', async () => {
    const directory = join(root, 'keys-by-hand');
    mkdirSync(directory);
    // written by hand or restored under a umask of 022: readable by every user of the machine
    const secretKey = `${randomBytes(32).toString('base64')}\n`;
    const apiKey = `tmx_ak_${randomBytes(24).toString('base64url')}\n`;
    writeFileSync(join(directory, 'secret.key'), secretKey, { mode: 0o644 });
    writeFileSync(join(directory, 'api.key'), apiKey, { mode: 0o640 });
    const mux = new ToolMux({ store: `sqlite:${join(directory, 'toolmux.db')}`, logger: quiet });
    try {
      await mux.create('user_1');
      expect(mode(join(directory, 'secret.key'))).toBe(0o600);
    } finally {
      await mux.close();
    }
    // the API key file of `toolmux serve`, read through the same function
    expect(readOrCreateKeyFile(join(directory, 'api.key'), () => 'unused', 'TOOLMUX_API_KEY')).toEqual({
      contents: apiKey,
      created: false,
    });
    expect(mode(join(directory, 'api.key'))).toBe(0o600);
    expect(readFileSync(join(directory, 'secret.key'), 'utf8')).toBe(secretKey);
  });

  it('ping answers while the database is there', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    await expect(store.ping()).resolves.toBeUndefined();
    await store.close();
  });
});
