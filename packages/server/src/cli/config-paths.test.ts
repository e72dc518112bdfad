import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  api,
  failingServe,
  forStarts,
  SECRET_KEY,
  serveTestHooks,
  startServe,
  tempDirectory,
} from '../test-serve.js';

/**
 * A relative SQLite path in a config file is read from the file's directory, as its toolkit module
 * paths are: `toolmux serve --config /srv/toolmux/toolmux.config.json` started from another directory
 * (a service manager's, a shell's) opens the database beside the file, not a new empty one (with
 * new key files) wherever the process happened to start. Flags and variables stay relative to the
 * working directory. On the code before, every command read the file's path from the working directory.
 */
serveTestHooks();

/** A directory holding `deploy/` (the config file) and `run/` (the working directory). */
function layout(): { deploy: string; run: string } {
  const root = tempDirectory();
  const deploy = join(root, 'deploy');
  const run = join(root, 'run');
  mkdirSync(deploy);
  mkdirSync(run);
  return { deploy, run };
}

describe('a relative store path in a config file', () => {
  it(
    'names a file beside the config file in serve, sessions list and keys rotate',
    forStarts(4),
    async () => {
      const { deploy, run } = layout();
      writeFileSync(
        join(deploy, 'toolmux.config.json'),
        JSON.stringify({ store: 'sqlite:./data/toolmux.db', port: 0 }),
      );
      const config = ['--config', '../deploy/toolmux.config.json'];
      const served = await startServe(config, { cwd: run });
      const database = join(deploy, 'data', 'toolmux.db');
      expect(served.lines().find((line) => line.url)).toMatchObject({
        store: `sqlite:${database}`,
        store_from: `store of ${join(deploy, 'toolmux.config.json')}`,
        api_key: `${join(deploy, 'data', 'api.key')} (created now)`,
      });
      // the key files beside the database, under the config file: the operator finds them there
      const apiKey = readFileSync(join(deploy, 'data', 'api.key'), 'utf8').trim();
      const asOperator = { authorization: `Bearer ${apiKey}` };
      const created = await api(served.url, 'POST', '/sessions', { user_id: 'ann' }, asOperator);
      expect(created.status).toBe(201);
      const sessionId = created.json.session_id as string;
      expect(await served.stop()).toBe(0);
      expect(readdirSync(run)).toEqual([]);
      expect(readdirSync(join(deploy, 'data')).sort()).toEqual(
        expect.arrayContaining(['api.key', 'secret.key', 'toolmux.db']),
      );

      // the reading commands find the same database from the working directory
      const listed = await failingServe(['sessions', 'list', ...config, '--json'], { cwd: run });
      expect(listed.stderr).toBe('');
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ sessionId, userId: 'ann' })]);
      const rotated = await failingServe(['keys', 'rotate', ...config], {
        cwd: run,
        env: { TOOLMUX_SECRET_KEY: readFileSync(join(deploy, 'data', 'secret.key'), 'utf8').trim() },
      });
      expect(rotated.stderr).toBe('');
      expect(rotated.stdout).toContain(`sqlite:./data/toolmux.db: 0 rotated, 0 skipped, 0 failed.`);
      expect(rotated.code).toBe(0);

      // a restart from elsewhere (a service manager's working directory) serves the same data
      const again = await startServe(config, { cwd: deploy });
      const sessions = await api(again.url, 'GET', '/sessions', undefined, asOperator);
      expect(sessions.json.items.map((item: { session_id: string }) => item.session_id)).toEqual([sessionId]);
      expect(await again.stop()).toBe(0);
      expect(readdirSync(run)).toEqual([]);
    },
  );

  it('is read from a module config file too, as a bare path', forStarts(2), async () => {
    const { deploy, run } = layout();
    writeFileSync(join(deploy, 'toolmux.config.mjs'), "export default { store: 'state/toolmux.db' };\n");
    const served = await startServe(['--config', join(deploy, 'toolmux.config.mjs'), '--port', '0'], {
      cwd: run,
      env: { TOOLMUX_SECRET_KEY: SECRET_KEY },
    });
    expect(served.lines().find((line) => line.url)).toMatchObject({
      store: `sqlite:${join(deploy, 'state', 'toolmux.db')}`,
    });
    expect(await served.stop()).toBe(0);
    expect(readdirSync(join(deploy, 'state'))).toContain('toolmux.db');
    expect(readdirSync(run)).toEqual([]);

    // --store (and TOOLMUX_STORE) name a path from the working directory, as a shell's paths do
    const fromFlag = await startServe(
      ['--config', join(deploy, 'toolmux.config.mjs'), '--port', '0', '--store', 'sqlite:./flag/t.db'],
      { cwd: run, env: { TOOLMUX_SECRET_KEY: SECRET_KEY } },
    );
    expect(fromFlag.lines().find((line) => line.url)).toMatchObject({
      store: `sqlite:${join(run, 'flag', 't.db')}`,
      store_from: '--store',
    });
    expect(await fromFlag.stop()).toBe(0);
    expect(readdirSync(deploy).sort()).toEqual(['state', 'toolmux.config.mjs']);
  });
});

describe('a store path starting with "~/"', () => {
  it(
    'is under the home directory, from the config file, TOOLMUX_STORE or --store',
    forStarts(2),
    async () => {
      const { deploy, run } = layout();
      const home = tempDirectory();
      writeFileSync(
        join(deploy, 'toolmux.config.json'),
        JSON.stringify({ store: 'sqlite:~/data/toolmux.db' }),
      );
      const config = ['--config', join(deploy, 'toolmux.config.json')];
      // on the code before, a directory named "~" beside the config file (or in the working directory)
      const served = await startServe([...config, '--port', '0'], { cwd: run, env: { HOME: home } });
      expect(served.lines().find((line) => line.url)).toMatchObject({
        store: `sqlite:${join(home, 'data', 'toolmux.db')}`,
      });
      expect(await served.stop()).toBe(0);
      expect(readdirSync(join(home, 'data'))).toEqual(
        expect.arrayContaining(['api.key', 'secret.key', 'toolmux.db']),
      );
      expect(readdirSync(deploy)).toEqual(['toolmux.config.json']);
      expect(readdirSync(run)).toEqual([]);

      // a variable and a flag reach toolmux unexpanded (no shell expands "~" after "sqlite:"): the same
      for (const [args, env] of [
        [['--store', 'sqlite:~/other.db'], {}],
        [[], { TOOLMUX_STORE: '~/other.db' }],
      ] as const) {
        const listed = await failingServe(['sessions', 'list', ...args], {
          cwd: run,
          env: { HOME: home, ...env },
        });
        expect(listed.code).toBe(1);
        expect(listed.stderr).toContain(`No database at ${join(home, 'other.db')} (`);
      }
      // "~name/" (another user's home, which toolmux does not look up) is refused naming the fix
      const other = await failingServe(['sessions', 'list', '--store', 'sqlite:~bob/x.db'], { cwd: run });
      expect(other.code).toBe(2);
      expect(other.stderr).toBe(
        'toolmux: Invalid store "sqlite:~bob/x.db" (--store): "~bob" is not expanded (only "~/", this user\'s home directory, is): write the absolute path, or "./~bob/x.db" for a file or directory whose name starts with "~". (STORE_CONFIG_INVALID)\n',
      );
      expect(readdirSync(run)).toEqual([]);
    },
  );
});
