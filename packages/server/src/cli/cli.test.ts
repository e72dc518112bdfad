import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ToolMux } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './commands.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixture-toolkits.mjs', import.meta.url));
const run = promisify(execFile);

/** The environment without any toolmux variable of the machine running the tests (each would be warned of, or read). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('TOOLMUX_') && name !== 'PORT') env[name] = value;
  }
  return env;
}

async function toolmux(args: string[], options: { cwd?: string } = {}) {
  return run(process.execPath, [CLI, ...args], { cwd: options.cwd, env: cleanEnv() });
}

async function inProcess(args: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: { ...cleanEnv(), ...env },
    stopSignal: async () => {},
  });
  return { code, stdout, stderr };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "pnpm build" in packages/server first.`);
});

describe('toolmux toolkits', () => {
  it('lists the built-in catalog as JSON', async () => {
    const { stdout } = await toolmux(['toolkits', 'list', '--json']);
    const toolkits = JSON.parse(stdout) as Array<{ slug: string; toolCount: number; noAuth: boolean }>;
    const slugs = toolkits.map((toolkit) => toolkit.slug);
    expect(slugs).toEqual([...slugs].sort());
    expect(slugs).toEqual(expect.arrayContaining(['github', 'gmail', 'slack', 'hackernews']));
    expect(toolkits.find((toolkit) => toolkit.slug === 'hackernews')).toMatchObject({ noAuth: true });
    expect(toolkits.every((toolkit) => toolkit.toolCount > 0)).toBe(true);
  });

  it('lists as a table, with a search and toolkits from a module', async () => {
    const { stdout } = await toolmux(['toolkits', 'list', '--toolkits', FIXTURE, '--search', 'to-do']);
    expect(stdout.split('\n')[0]).toMatch(/^SLUG\s+NAME\s+AUTH\s+TOOLS\s+DESCRIPTION$/);
    expect(stdout).toMatch(/^tasks\s+Tasks\s+none\s+6\s+A to-do list/m);
  });

  it('shows one toolkit', async () => {
    const { stdout } = await toolmux(['toolkits', 'info', 'hackernews', '--json']);
    const info = JSON.parse(stdout);
    expect(info).toMatchObject({ slug: 'hackernews', noAuth: true });
    expect(info.tools.length).toBe(info.toolCount);
    // the rest in this process: each CLI process loads the whole catalog (seconds under CI's load)
    const text = await inProcess(['toolkits', 'info', 'tasks', '--toolkits', FIXTURE]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Tasks (tasks)');
    expect(text.stdout).toMatch(/^\s+TASKS_CREATE_TASK\s+Create a new task/m);
    expect(text.stdout).toMatch(/^keywords:\s+-$/m);
    // a toolkit's keywords, which search reads as words of its tools
    const gmail = await inProcess(['toolkits', 'info', 'gmail']);
    expect(gmail.stdout).toMatch(/^keywords:\s+email, mail, inbox, mailbox$/m);
  });

  it('an unknown toolkit slug is a usage error (exit 2) naming it and how to list the slugs, as a bad --cursor is', async () => {
    const result = await inProcess(['toolkits', 'info', 'nope']);
    expect(result.code).toBe(2);
    // the fix in the CLI's words, not the SDK's
    expect(result.stderr).toBe(
      'toolmux: toolkits info: Unknown toolkit "nope". List the available ones with `toolmux toolkits list`. (usage: toolmux toolkits info --help)\n',
    );
    expect(result.stdout).toBe('');
    const near = await inProcess(['toolkits', 'info', 'githb']);
    expect(near.code).toBe(2);
    expect(near.stderr).toContain('Unknown toolkit "githb". Did you mean "github"?');
    // a slug none can be (over 256 characters) is one too
    const long = await inProcess(['toolkits', 'info', 'x'.repeat(300)]);
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(
      /^toolmux: toolkits info: toolkit "x+…" is 300 characters long.*\(usage: toolmux toolkits info --help\)\n$/,
    );
    // another catalog: the listing command is told with the same flag
    const other = await inProcess(['toolkits', 'info', 'nope', '--toolkits', FIXTURE]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('Unknown toolkit "nope".');
    expect(other.stderr).toContain(
      'List the available ones with `toolmux toolkits list`. Give `toolmux toolkits list` the same --toolkits / --config to list this catalog.',
    );
    expect(result.stderr).not.toContain('toolkits.list()');
  });

  it('refuses a module without toolkits, exit 2 as any setting refused as written', async () => {
    const result = await inProcess(['toolkits', 'list', '--toolkits', fileURLToPath(import.meta.url)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('exports no toolkits');
  });
});

describe('--help and usage errors', () => {
  it('prints help for every command, exit 0', async () => {
    const main = await toolmux(['--help']);
    expect(main.stdout).toContain('Usage: toolmux <command>');
    for (const [args, expected] of [
      [['serve', '--help'], 'Usage: toolmux serve'],
      [['toolkits', 'list', '--help'], 'Usage: toolmux toolkits list'],
      [['toolkits', 'info', '-h'], 'Usage: toolmux toolkits info <slug>'],
      [['sessions', 'list', '--help'], 'Usage: toolmux sessions list'],
      [['toolkits', '--help'], 'Usage: toolmux toolkits list'],
    ] as const) {
      const result = await inProcess([...args]);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout).toContain(expected);
    }
  });

  it('exits 2 on unknown commands, options and arguments', async () => {
    for (const args of [['launch'], ['serve', '--bogus'], ['serve', 'extra'], ['toolkits', 'info']]) {
      const result = await inProcess(args);
      expect(result.code, args.join(' ')).toBe(2);
    }
    expect((await inProcess(['serve', '--port', 'abc'])).stderr).toContain('--port must be a port number');
  });

  it('takes a port (--port, PORT) and a numeric variable as decimal digits only, else exits 2 naming the text', async () => {
    for (const text of ['0x10', '1e3', ' 80', '80 ', '80.0', '+80', '0b1', '65536', 'abc']) {
      const result = await inProcess(['serve', '--port', text, '--store', 'mysql://nothing']);
      expect(result.code, text).toBe(2);
      expect(result.stderr).toBe(
        `toolmux: --port must be a port number from 0 to 65535, got "${text}". (usage: toolmux serve --help)\n`,
      );
    }
    const fromEnv = await inProcess(['serve', '--store', 'mysql://nothing'], { PORT: '1e3' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('PORT must be a port number from 0 to 65535, got "1e3"');
    for (const text of ['0x10', '1e3', ' 5', '5.0']) {
      const result = await inProcess(['serve', '--store', ':memory:'], {
        TOOLMUX_SESSION_CACHE_TTL_MS: text,
      });
      expect(result.code, text).toBe(2);
      expect(result.stderr).toContain(`TOOLMUX_SESSION_CACHE_TTL_MS must be a whole number of milliseconds`);
      expect(result.stderr).toContain(`got "${text}"`);
    }
    // digits get as far as the store (which this one is not)
    const good = await inProcess(['serve', '--port', '080', '--store', 'mysql://nothing']);
    expect(good.stderr).toMatch(/^toolmux: Invalid store .*\(STORE_CONFIG_INVALID\)\n$/);
  });

  it('refuses an empty value of any option of any command (--port=, --port ""), exit 2 naming the flag', async () => {
    // after a store that is refused, nothing is created: an empty value that got further stops there
    const serve = ['serve', '--store', 'mysql://nothing'];
    const read = (command: string[]) => [...command, '--store', 'sqlite:./no-such-dir/x.db'];
    const cases: Array<[string[], string[]]> = [
      [serve, ['config', 'port', 'host', 'store', 'base-url', 'toolkits', 'log-level', 'log-format']],
      [
        ['toolkits', 'list'],
        ['config', 'search', 'toolkits'],
      ],
      [
        ['toolkits', 'info', 'hackernews'],
        ['config', 'toolkits'],
      ],
      [read(['sessions', 'list']), ['config', 'user', 'limit', 'store']],
      [read(['keys', 'rotate']), ['config', 'store']],
    ];
    for (const [command, flags] of cases) {
      for (const flag of flags) {
        for (const typed of [[`--${flag}=`], [`--${flag}`, '']]) {
          // the variable of the same setting is set: the empty flag is not taken as its absence
          const result = await inProcess([...command, ...typed], {
            PORT: '9000',
            TOOLMUX_LOG_LEVEL: 'debug',
          });
          const what = `${command.join(' ')} ${typed.join(' ')}`;
          expect(result.code, what).toBe(2);
          expect(result.stderr, what).toBe(
            `toolmux: --${flag} needs a value, got an empty one: give it one, or leave --${flag} out for its default. (usage: toolmux ${command.slice(0, command[0] === 'serve' ? 1 : 2).join(' ')} --help)\n`,
          );
        }
      }
    }
  });

  it('refuses a single-dash option (-p 8080, -port 8080), exit 2 naming the long option meant', async () => {
    // on the code before, node:util's message: "Unknown option '-p'. To specify a positional
    // argument starting with a '-', place it at the end of the command after '--'", and for -port
    // the same about "-p", the first letter
    const cases: Array<[string[], string, string | undefined]> = [
      [['serve', '-p', '8080'], '-p', 'port'],
      [['serve', '-P', '8080'], '-P', 'port'],
      [['serve', '-port', '8080'], '-port', 'port'],
      [['serve', '-store=sqlite:./x.db'], '-store', 'store'],
      [['serve', '-h', '-l', 'debug'], '-l', undefined], // --log-level or --log-format
      [['toolkits', 'list', '-j'], '-j', 'json'],
      [['toolkits', 'info', 'github', '-json'], '-json', 'json'],
      [['sessions', 'list', '-u', 'ann'], '-u', 'user'],
      [['keys', 'rotate', '-c', 'toolmux.config.json'], '-c', 'config'],
    ];
    for (const [args, typed, meant] of cases) {
      const result = await inProcess(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(
        new RegExp(
          `^toolmux: Unknown option "${typed}": options are written --name \\(the only short one is -h\\)\\. ${meant ? `Did you mean "--${meant}"\\?` : 'The options: --config, '}`,
        ),
      );
    }
    // a value that starts with a dash is a value, not an option
    expect((await inProcess(['sessions', 'list', '--user=-ann', '--store', ':memory:'])).stderr).toContain(
      'is in memory',
    );
    // the built CLI says the same, as the operator sees it
    const spawned = await toolmux(['serve', '-p', '8080']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(spawned).toMatchObject({
      code: 2,
      stderr:
        'toolmux: Unknown option "-p": options are written --name (the only short one is -h). Did you mean "--port"? (usage: toolmux serve --help)\n',
    });
  });

  it('names the help of the command run in every usage error', async () => {
    // on the code before, each said "(usage: toolmux --help)", the main help
    const cases: Array<[string[], string]> = [
      [['serve', '--port', 'abc'], 'toolmux serve --help'],
      [['serve', '--bogus'], 'toolmux serve --help'],
      [['toolkits', 'list', '--bogus'], 'toolmux toolkits list --help'],
      [['toolkits', 'info'], 'toolmux toolkits info --help'],
      [['sessions', 'list', '--limit', '0'], 'toolmux sessions list --help'],
      [['keys', 'rotate', 'extra'], 'toolmux keys rotate --help'],
      [['toolkits', 'frob'], 'toolmux toolkits --help'],
      [['launch'], 'toolmux --help'],
      [['--bogus'], 'toolmux --help'],
    ];
    for (const [args, help] of cases) {
      const result = await inProcess(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(new RegExp(`^toolmux: [^\\n]+ \\(usage: ${help}\\)\\n$`));
    }
  });

  it('refuses a flag without its value, or with a value that starts with a dash, naming the flag, what it takes and the fix', async () => {
    // on the code before, node:util's words: "Option '--port <value>' argument missing", "Option
    // '--limit' argument is ambiguous. Did you forget to specify the option argument for '--limit'?"
    const store = ['--store', 'sqlite:./no-such-dir/x.db'];
    const missing: Array<[string[], string]> = [
      [
        ['serve', '--port'],
        '--port takes a port number from 0 to 65535, and nothing followed it: give it one (--port 8080), or leave --port out.',
      ],
      [
        ['serve', '--log-level'],
        '--log-level takes a log level (fatal, error, warn, info, debug, trace, silent), and nothing followed it: give it one (--log-level debug), or leave --log-level out.',
      ],
      [
        ['toolkits', 'list', '--search'],
        '--search takes the text to look for, and nothing followed it: give it one (--search mail), or leave --search out.',
      ],
      [
        ['sessions', 'list', ...store, '--cursor'],
        '--cursor takes the cursor a previous page printed on stderr, and nothing followed it: give it one (--cursor ses_…), or leave --cursor out.',
      ],
      [
        ['keys', 'rotate', '--config'],
        '--config takes a config file, and nothing followed it: give it one (--config toolmux.config.json), or leave --config out.',
      ],
    ];
    const dashed: Array<[string[], string]> = [
      [
        ['sessions', 'list', ...store, '--limit', '-1'],
        '--limit takes a whole number from 1 to 1000, and the word after it, "-1", starts with a dash, so it is not read as its value: write --limit=-1 if that is the value, else give --limit one before it (--limit 50).',
      ],
      [
        ['sessions', 'list', ...store, '--user', '-bob'],
        '--user takes a user id, and the word after it, "-bob", starts with a dash, so it is not read as its value: write --user=-bob if that is the value, else give --user one before it (--user user_123).',
      ],
      [
        ['serve', '--port', '--host', '0.0.0.0'],
        '--port takes a port number from 0 to 65535, and the word after it, "--host", starts with a dash, so it is not read as its value: write --port=--host if that is the value, else give --port one before it (--port 8080).',
      ],
      [
        ['toolkits', 'info', 'github', '--toolkits', '-h'],
        '--toolkits takes a module that exports toolkits, and the word after it, "-h", starts with a dash, so it is not read as its value: write --toolkits=-h if that is the value, else give --toolkits one before it (--toolkits ./toolkits.mjs).',
      ],
    ];
    const valued: Array<[string[], string]> = [
      [['toolkits', 'list', '--json=yes'], '--json takes no value, got "yes": write --json alone.'],
      [['serve', '--help=please'], '--help takes no value, got "please": write --help alone.'],
    ];
    for (const [args, message] of [...missing, ...dashed, ...valued]) {
      const result = await inProcess(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(
        new RegExp(
          `^toolmux: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(usage: toolmux [a-z ]+ --help\\)\\n$`,
        ),
      );
    }
    // the fix it names works: the value is taken, and checked as any other
    const fixed = await inProcess(['sessions', 'list', ...store, '--user=-bob']);
    expect(fixed.stderr).toContain('No database at');
    expect((await inProcess(['sessions', 'list', ...store, '--limit=-1'])).stderr).toContain(
      '--limit must be a whole number from 1 to 1000, got "-1".',
    );
    // every flag that takes a value of every command names what it takes
    const commands: Array<[string[], string[]]> = [
      [['serve'], ['config', 'port', 'host', 'store', 'base-url', 'toolkits', 'log-level', 'log-format']],
      [
        ['toolkits', 'list'],
        ['config', 'search', 'toolkits'],
      ],
      [
        ['toolkits', 'info', 'github'],
        ['config', 'toolkits'],
      ],
      [
        ['sessions', 'list'],
        ['config', 'user', 'limit', 'cursor', 'store'],
      ],
      [
        ['keys', 'rotate'],
        ['config', 'store'],
      ],
    ];
    for (const [command, flags] of commands) {
      for (const flag of flags) {
        const { stderr } = await inProcess([...command, `--${flag}`]);
        expect(stderr, `${command.join(' ')} --${flag}`).toMatch(
          new RegExp(
            `^toolmux: --${flag} takes .+?, and nothing followed it: give it one \\(--${flag} \\S+\\)`,
          ),
        );
        expect(stderr).not.toContain('a value,');
      }
    }
  });

  it('warns of a TOOLMUX_ variable toolmux does not read, naming the one meant; none for the documented ones', async () => {
    const listing = ['sessions', 'list', '--store', 'sqlite:./no-such-dir/x.db'];
    // on the code before, each was ignored in silence (the setting at its default)
    const typos = await inProcess(listing, {
      TOOLMUX_SECRETKEY: 'x',
      TOOLMUX_PORT: '9000',
      TOOLMUX_SHUTDOWN_TIMEOUT_MS: '30000',
      TOOLMUX_TEST_ANYTHING: 'x',
    });
    expect(typos.stderr.split('\n').filter((line) => line.includes('warning'))).toEqual([
      'toolmux: warning: TOOLMUX_PORT is set, but toolmux reads no such variable: it is ignored (the port is PORT, or --port).',
      'toolmux: warning: TOOLMUX_SECRETKEY is set, but toolmux reads no such variable: it is ignored (did you mean TOOLMUX_SECRET_KEY?).',
      'toolmux: warning: TOOLMUX_SHUTDOWN_TIMEOUT_MS is set, but toolmux reads no such variable: it is ignored (shutdownTimeoutMs has no variable: set it in the config file).',
    ]);
    expect(typos.stderr).toContain('No database at');
    // every variable of docs/server.md's reference (its "environment variable" column) is one toolmux reads
    const docs = readFileSync(new URL('../../../../docs/server.md', import.meta.url), 'utf8');
    const documented = docs
      .split('\n')
      .filter((line) => line.startsWith('|'))
      .map((line) => /^`(TOOLMUX_[A-Z0-9_]+)`$/.exec(line.split('|')[3]?.trim() ?? '')?.[1])
      .filter((name): name is string => name !== undefined);
    expect(documented).toEqual(expect.arrayContaining(['TOOLMUX_API_KEY', 'TOOLMUX_WORKBENCH_SPIN_US']));
    const all = await inProcess(listing, Object.fromEntries(documented.map((name) => [name, 'x'])));
    expect(all.stderr).not.toContain('warning');
  });

  it('takes --limit of sessions list as decimal digits from 1 to 1000, else exits 2 naming the flag and the text', async () => {
    for (const text of ['abc', '0', '1001', '1e2', '0x10', ' 5', '5.0']) {
      const result = await inProcess([
        'sessions',
        'list',
        '--limit',
        text,
        '--store',
        'sqlite:./no-such-dir/x.db',
      ]);
      expect(result.code, text).toBe(2);
      expect(result.stderr).toBe(
        `toolmux: --limit must be a whole number from 1 to 1000, got ${JSON.stringify(text)}. (usage: toolmux sessions list --help)\n`,
      );
    }
    // a good limit gets as far as the store
    const good = await inProcess([
      'sessions',
      'list',
      '--limit',
      '1000',
      '--store',
      'sqlite:./no-such-dir/x.db',
    ]);
    expect(good.code).toBe(1);
    expect(good.stderr).toContain('No database at');
  });
});

describe('toolmux serve', () => {
  let directory: string;
  let child: ChildProcess;
  let output = '';
  let url: string;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'toolmux-cli-'));
    child = spawn(
      process.execPath,
      [
        CLI,
        'serve',
        '--port',
        '0',
        '--store',
        'sqlite:./data/toolmux.db',
        '--toolkits',
        FIXTURE,
        '--log-format',
        'pretty',
      ],
      { cwd: directory, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve printed no URL in time:\n${output}`)), 15_000);
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
        if (match && output.includes('Try:')) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
    });
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    rmSync(directory, { recursive: true, force: true });
  });

  it('prints its URL, where the API key is, and a first curl', () => {
    const keyFile = join(directory, 'data', 'api.key');
    expect(output).toContain(`API key:  ${keyFile} (created now)`);
    expect(output).toContain(`curl -s -H "Authorization: Bearer $(cat ${keyFile})" ${url}/api/v1/toolkits`);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  // two CLI processes start in it (sessions list), each a few seconds on a machine as loaded as CI's:
  // it ran past the default 20 s there
  it('answers the REST API with the key from the key file, and nothing without it', {
    timeout: 60_000,
  }, async () => {
    const apiKey = readFileSync(join(directory, 'data', 'api.key'), 'utf8').trim();
    const toolkits = await fetch(`${url}/api/v1/toolkits?search=tasks`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(toolkits.status).toBe(200);
    expect((await toolkits.json()).items.map((toolkit: { slug: string }) => toolkit.slug)).toEqual(['tasks']);
    expect((await fetch(`${url}/api/v1/toolkits`)).status).toBe(401);

    const created = await fetch(`${url}/api/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'cli_user', config: { toolkits: ['tasks'] } }),
    });
    expect(created.status).toBe(201);
    const session = await created.json();
    expect(session.mcp.url).toBe(`${url}/mcp/${session.session_id}`);
    const mcp = await fetch(session.mcp.url, {
      method: 'POST',
      headers: { ...session.mcp.headers, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect((await mcp.json()).result.tools.map((tool: { name: string }) => tool.name)).toContain(
      'TOOLMUX_SEARCH_TOOLS',
    );

    const listed = await toolmux(['sessions', 'list', '--store', 'sqlite:./data/toolmux.db', '--json'], {
      cwd: directory,
    });
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ sessionId: session.session_id, userId: 'cli_user' }),
    ]);
    const table = await toolmux(
      ['sessions', 'list', '--store', 'sqlite:./data/toolmux.db', '--user', 'nobody'],
      {
        cwd: directory,
      },
    );
    expect(table.stdout).toBe('No sessions.\n');
  });

  it('serves the SDK in remote mode with the printed base URL and the key from the key file', async () => {
    expect(output).toContain(`SDK:      new ToolMux({ baseUrl: '${url}', apiKey }) from @toolmux/core`);
    const apiKey = readFileSync(join(directory, 'data', 'api.key'), 'utf8').trim();
    const mux = new ToolMux({ baseUrl: url, apiKey });
    try {
      const session = await mux.create('cli_remote', { toolkits: ['tasks'] });
      const found = await session.search({ query: 'create a to-do task' });
      expect(found.results[0]!.tools[0]!.tool_slug).toBe('TASKS_CREATE_TASK');
      const created = await session.execute('TASKS_CREATE_TASK', { title: 'from the SDK' });
      expect(created).toMatchObject({ successful: true, data: { title: 'from the SDK' } });
      expect((await session.logs()).items.map((log) => log.id)).toEqual([created.logId]);
    } finally {
      await mux.close();
    }
  });

  it('stops on SIGTERM with exit code 0', async () => {
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
  });

  it('reuses the key file on the next start', async () => {
    const again = await inProcess(['serve', '--port', '0', '--store', join(directory, 'data', 'toolmux.db')]);
    expect(again.code).toBe(0);
    const listening = JSON.parse(again.stdout.split('\n')[0]!);
    expect(listening).toMatchObject({
      msg: expect.stringContaining('listening on'),
      api_key: join(directory, 'data', 'api.key'),
    });
  });
});
