import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_OAUTH_REQUEST_TIMEOUT_MS, MAX_OAUTH_REQUEST_TIMEOUT_MS } from '@toolmux/core/internal';
import { describe, expect, it } from 'vitest';
import { runCli } from './commands.js';
import { helpOnly, OAUTH_REQUEST_TIMEOUT_MS } from './help.js';

const run = promisify(execFile);
const BIN = join(fileURLToPath(new URL('../..', import.meta.url)), 'bin', 'toolmux.js');

/** What runCli (the whole CLI, every option checked) answers to `argv`. */
async function fullAnswer(argv: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  let stdout = '';
  let stderr = '';
  const exitCode = await runCli(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: {},
    stopSignal: () => new Promise(() => {}),
  });
  return { stdout, stderr, exitCode };
}

/**
 * Records every module the process resolves that is not a Node.js built-in, and prints them to
 * stderr as it exits (Node's synchronous module hooks see static and dynamic imports alike).
 */
const RECORD_MODULES = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
const seen = [];
registerHooks({ resolve(specifier, context, next) {
  const resolved = next(specifier, context);
  if (!resolved.url.startsWith('node:')) seen.push(resolved.url);
  return resolved;
} });
process.on('exit', () => process.stderr.write('MODULES ' + JSON.stringify(seen) + '\\n'));
`)}`;

const HELP_LINES: string[][] = [
  [],
  ['--help'],
  ['-h'],
  ['help'],
  ['serve', '--help'],
  ['serve', '-h'],
  ['toolkits'],
  ['toolkits', '--help'],
  ['sessions'],
  ['sessions', '-h'],
  ['toolkits', 'list', '--help'],
  ['toolkits', 'info', '-h'],
  ['sessions', 'list', '--help'],
  ['help', 'serve'],
  ['help', 'toolkits'],
  ['help', 'toolkits', 'info'],
  ['help', 'sessions', 'list'],
  ['help', 'help'],
  ['--version'],
  ['-v'],
];

describe('a command line that asks only for help', () => {
  it.each(HELP_LINES.map((argv) => [argv.join(' ') || '(nothing)', argv]))(
    '%s: answered as the whole CLI answers it (text, exit code 0)',
    async (_line, argv) => {
      const fast = helpOnly(argv as string[]);
      const full = await fullAnswer(argv as string[]);
      expect(fast).toBeDefined();
      expect(`${fast}\n`).toBe(full.stdout);
      expect(full.exitCode).toBe(0);
      expect(full.stderr).toBe('');
    },
  );

  it.each([
    ['serve', '--help', '--port', 'x'],
    ['serve', '--port', '8080', '--help'],
    ['--help', 'serve'],
    ['toolkits', '--json'],
    ['toolkits', 'list', '--help', '--bogus'],
    ['toolkits', 'lst', '--help'],
    ['serv'],
    ['serve'],
    ['sessions', 'list'],
  ])('%s …: left to the whole CLI, which checks every option', (...argv) => {
    expect(helpOnly(argv)).toBeUndefined();
  });

  it('`toolmux help <command>` is the help of that command, as `<command> --help` is', async () => {
    for (const [words, same] of [
      [['serve'], ['serve', '--help']],
      [['toolkits'], ['toolkits', '--help']],
      [
        ['toolkits', 'info'],
        ['toolkits', 'info', '--help'],
      ],
      [
        ['sessions', 'list'],
        ['sessions', 'list', '--help'],
      ],
    ]) {
      const asked = await fullAnswer(['help', ...words!]);
      expect(asked.exitCode).toBe(0);
      expect(asked.stdout).toBe((await fullAnswer(same!)).stdout);
    }
    expect((await fullAnswer(['help', 'serve'])).stdout).toMatch(/^Usage: toolmux serve \[options\]/);
  });

  it('`toolmux` alone, and a group alone (`toolmux toolkits`), print the help on stdout, exit 0, as docker, kubectl and gh do', async () => {
    // on the code before: the help on stdout with exit 2, as if something had gone wrong
    for (const argv of [[], ['toolkits'], ['sessions'], ['keys']]) {
      const answer = await run(process.execPath, [BIN, ...argv]);
      expect(answer.stdout, argv.join(' ')).toMatch(/^(toolmux — a tool router|Usage: toolmux )/);
      expect(answer.stderr).toBe('');
    }
  });

  it("an option or a word where a group's command goes is a usage error on stderr, exit 2, naming the group's commands", async () => {
    const commands = {
      toolkits: '"toolmux toolkits list", "toolmux toolkits info <slug>"',
      sessions: '"toolmux sessions list"',
      keys: '"toolmux keys rotate"',
    };
    const cases: Array<[string[], string]> = [
      // on the code before: the group's help on stdout, exit 2
      [
        ['toolkits', '--json'],
        `"toolmux toolkits" takes a command before its options. The toolkits commands: ${commands.toolkits}.`,
      ],
      [
        ['keys', '--store', 'x.db'],
        `"toolmux keys" takes a command before its options. The keys commands: ${commands.keys}.`,
      ],
      // on the code before: 'Did you mean "toolmux toolkits"?', the group typed
      [['toolkits', 'frob'], `Unknown command "toolkits frob". The toolkits commands: ${commands.toolkits}.`],
      [['sessions', 'frob'], `Unknown command "sessions frob". The sessions commands: ${commands.sessions}.`],
      [['toolkits', 'lst'], 'Unknown command "toolkits lst". Did you mean "toolmux toolkits list"?'],
      [
        ['toolkits', 'inf', 'github'],
        'Unknown command "toolkits inf". Did you mean "toolmux toolkits info"?',
      ],
      [['keys', 'rotat'], 'Unknown command "keys rotat". Did you mean "toolmux keys rotate"?'],
    ];
    for (const [argv, message] of cases) {
      const group = argv[0]!;
      const expected = `toolmux: ${message} (usage: toolmux ${group} --help)\n`;
      const answer = await fullAnswer(argv);
      expect(answer, argv.join(' ')).toEqual({ stdout: '', stderr: expected, exitCode: 2 });
    }
    // the built CLI, as the operator runs it
    const spawned = await run(process.execPath, [BIN, 'toolkits', 'frob']).catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(spawned).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `toolmux: Unknown command "toolkits frob". The toolkits commands: ${commands.toolkits}. (usage: toolmux toolkits --help)\n`,
    });
  });

  it('`toolmux help <no command>` is a usage error (exit 2) suggesting the command meant', async () => {
    const answer = await fullAnswer(['help', 'serv']);
    expect(answer.exitCode).toBe(2);
    expect(answer.stdout).toBe('');
    expect(answer.stderr).toBe(
      'toolmux: There is no command "serv" to show the help of. Did you mean "toolmux help serve"? (usage: toolmux --help)\n',
    );
    expect(helpOnly(['help', 'serv'])).toBeUndefined();
  });

  it('`toolmux --version` prints the version of @toolmux/server, exit 0, without loading the engine', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-v']) {
      const answer = await run(process.execPath, ['--import', RECORD_MODULES, BIN, flag]);
      expect(answer.stdout).toBe(`${version}\n`);
      const modules = JSON.parse(/^MODULES (.*)$/m.exec(answer.stderr)![1]!) as string[];
      expect(modules.filter((url) => /\/(server|commands|config)\.js$/.test(url))).toEqual([]);
    }
  });

  it('states the OAuth request timeout bounds core enforces', () => {
    expect(OAUTH_REQUEST_TIMEOUT_MS).toEqual({
      default: DEFAULT_OAUTH_REQUEST_TIMEOUT_MS,
      max: MAX_OAUTH_REQUEST_TIMEOUT_MS,
    });
  });

  it.each(
    [['--help'], ['serve', '--help'], ['toolkits'], ['help', 'serve']].map((argv) => [argv.join(' '), argv]),
  )(
    '`toolmux %s` loads none of @toolmux/core, the toolkits, the server or their dependencies',
    async (_line, argv) => {
      const answer = await run(process.execPath, [
        '--import',
        RECORD_MODULES,
        BIN,
        ...(argv as string[]),
      ]).catch((error: { code: number; stdout: string; stderr: string }) => error);
      expect(answer.stdout).toContain('Usage: toolmux');
      const modules = JSON.parse(/^MODULES (.*)$/m.exec(answer.stderr)![1]!) as string[];
      const loaded = modules.map((url) => url.replace(/^.*\/packages\//, 'packages/'));
      expect(loaded.length).toBeGreaterThan(0);
      // the bin, the CLI's entry, the version check, the help and its two constants' modules
      expect(
        loaded.every((url) => url.startsWith('packages/server/')),
        loaded.join('\n'),
      ).toBe(true);
      expect(loaded.filter((url) => /\/(server|commands|config)\.js$/.test(url))).toEqual([]);
    },
  );
});
