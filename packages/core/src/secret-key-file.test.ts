import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rejection } from './test/auth-fixtures.js';
import { recordingLogger } from './test/recording-logger.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

/**
 * An embedded SQLite store without a configured secret key keeps its key in `secret.key` beside the
 * database, created once. A database moved or restored without that file (a backup of the database
 * alone, a volume that held only `toolmux.db`) still holds the credentials the lost key encrypted.
 * Creating a new key then made every one of them unreadable at its first use (SECRET_KEY_MISSING, a
 * 500 for each call), changed every MCP token, and encrypted new credentials under the new key, so
 * that putting the right file back afterwards made those unreadable in turn.
 */
const directories: string[] = [];
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

function freshDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'toolmux-key-file-'));
  directories.push(directory);
  return directory;
}

function open(directory: string, logger = recordingLogger()): ToolMux {
  return new ToolMux({
    toolkits: createSampleToolkits().toolkits,
    store: `sqlite:${join(directory, 'toolmux.db')}`,
    logger,
  });
}

describe.skipIf(process.env.TOOLMUX_SECRET_KEY !== undefined)(
  'the secret key file of an SQLite store',
  () => {
    it('is not created anew beside a database that holds credentials: SECRET_KEY_MISSING names the file, and the database opens again once the file is back', async () => {
      const directory = freshDirectory();
      const keyFile = join(directory, 'secret.key');
      const first = open(directory);
      const config = await first.authConfigs.create('mail', { type: 'api_key' });
      const account = await first.connectedAccounts.create('user_1', config.id, { apiKey: 'key-of-user-1' });
      await first.close();
      const original = readFileSync(keyFile, 'utf8');

      rmSync(keyFile);
      const logger = recordingLogger();
      const without = open(directory, logger);
      const error = await rejection(
        without.connectedAccounts.list({ userIds: ['user_1'] }),
        'SECRET_KEY_MISSING',
      );
      expect(error.message).toContain(keyFile);
      expect(error.message).toContain('TOOLMUX_SECRET_KEY');
      // nothing was created, so the next start refuses the same way instead of using a new key
      expect(existsSync(keyFile)).toBe(false);
      await rejection(without.create('user_1', { toolkits: ['mail'] }), 'SECRET_KEY_MISSING');
      expect(existsSync(keyFile)).toBe(false);
      expect(logger.warnings.join('\n')).not.toContain('created a secret key');
      await without.close();

      writeFileSync(keyFile, original, { mode: 0o600 });
      const restored = open(directory);
      try {
        const session = await restored.create('user_1', {
          toolkits: ['mail'],
          authConfigs: { mail: config.id },
        });
        expect(
          await session.execute('MAIL_SEND_EMAIL', { to: 'a@example.com', subject: 's', body: 'b' }),
        ).toMatchObject({
          successful: true,
        });
        expect((await restored.connectedAccounts.get(account.id)).status).toBe('ACTIVE');
      } finally {
        await restored.close();
      }
    });

    it('is still created beside a database that holds no credentials (only sessions and logs), with its warning', async () => {
      const directory = freshDirectory();
      const keyFile = join(directory, 'secret.key');
      const first = open(directory);
      await first.create('user_1', { toolkits: ['tasks'] });
      await first.close();
      rmSync(keyFile);
      const logger = recordingLogger();
      const again = open(directory, logger);
      try {
        await again.create('user_1', { toolkits: ['tasks'] });
        expect(existsSync(keyFile)).toBe(true);
        expect(logger.warnings.join('\n')).toContain('created a secret key');
      } finally {
        await again.close();
      }
    });
  },
);
