import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Toolkit, ToolMux, ToolMuxError } from '@toolmux/core';
import { builtinToolkits } from '@toolmux/toolkits';
import { createServer } from '../server.js';

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Resolves when the process should stop serving (SIGINT / SIGTERM). */
  stopSignal: () => Promise<void>;
}

const DEFAULT_STORE = 'sqlite:./.toolmux/toolmux.db';

const HELP = {
  main: `toolmux — a tool router for AI agents

Usage: toolmux <command> [options]

Commands:
  serve                  Start the server: REST API (/api/v1) and per-session MCP (/mcp/:sessionId)
  toolkits list          List the toolkits of the catalog
  toolkits info <slug>   Show one toolkit and its tools
  sessions list          List stored sessions, newest first

Options:
  -h, --help             Show help (also after any command)

Run "toolmux <command> --help" for the options of a command.`,
  serve: `Usage: toolmux serve [options]

Starts the toolmux server: REST API under /api/v1 (OpenAPI at /api/v1/openapi.json) and the
per-session MCP endpoint at /mcp/:sessionId.

Options:
  --port <port>          Port to listen on (0: any free port)           [default: 8787, env PORT]
  --host <host>          Interface to listen on                          [default: 127.0.0.1]
  --store <spec>         sqlite:<path> | postgres://… | :memory:         [default: ${DEFAULT_STORE}, env TOOLMUX_STORE]
  --base-url <url>       Where clients reach this server (MCP URLs)      [default: http://<host>:<port>, env TOOLMUX_BASE_URL]
  --toolkits <module>    Also serve the toolkits a module exports (default export or "toolkits")
  -h, --help             Show this help

The API key is TOOLMUX_API_KEY; without it, a key file "api.key" (mode 0600) is created beside
the SQLite database. A PostgreSQL store needs TOOLMUX_API_KEY and TOOLMUX_SECRET_KEY.`,
  'toolkits list': `Usage: toolmux toolkits list [options]

Options:
  --search <text>        Only toolkits whose slug, name or description contains the text
  --toolkits <module>    Add the toolkits a module exports
  --json                 Print JSON
  -h, --help             Show this help`,
  'toolkits info': `Usage: toolmux toolkits info <slug> [options]

Options:
  --toolkits <module>    Add the toolkits a module exports
  --json                 Print JSON
  -h, --help             Show this help`,
  'sessions list': `Usage: toolmux sessions list [options]

Options:
  --user <id>            Only sessions of this user
  --limit <n>            At most this many (1–1000)                      [default: 20]
  --store <spec>         sqlite:<path> | postgres://…                    [default: ${DEFAULT_STORE}, env TOOLMUX_STORE]
  --json                 Print JSON
  -h, --help             Show this help`,
} as const;

class UsageError extends Error {}

/** Runs one CLI invocation; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, subcommand] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      io.stdout(`${HELP.main}\n`);
      return command === undefined ? 2 : 0;
    }
    if (command === 'serve') return await serve(argv.slice(1), io);
    if (command === 'toolkits' && subcommand === 'list') return await listToolkits(argv.slice(2), io);
    if (command === 'toolkits' && subcommand === 'info') return await toolkitInfo(argv.slice(2), io);
    if (command === 'sessions' && subcommand === 'list') return await listSessions(argv.slice(2), io);
    if (
      (command === 'toolkits' || command === 'sessions') &&
      (subcommand === undefined || subcommand.startsWith('-'))
    ) {
      io.stdout(
        `${command === 'toolkits' ? `${HELP['toolkits list']}\n\n${HELP['toolkits info']}` : HELP['sessions list']}\n`,
      );
      return subcommand === '--help' || subcommand === '-h' ? 0 : 2;
    }
    throw new UsageError(`Unknown command "${argv.slice(0, 2).join(' ')}".`);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`toolmux: ${(error as Error).message}\nRun "toolmux --help" for usage.\n`);
      return 2;
    }
    if (ToolMuxError.isInstance(error)) {
      io.stderr(`toolmux: ${error.message} (${error.code})\n`);
      return 1;
    }
    throw error;
  }
}

type OptionValues = Record<string, string | boolean | undefined>;

/** node:util parseArgs, strict, with `-h/--help` on every command. */
function parse(
  args: readonly string[],
  options: Record<string, { type: 'string' | 'boolean' }>,
  maxPositionals = 0,
): { values: OptionValues; positionals: string[] } {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { ...options, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > maxPositionals)
    throw new UsageError(`Unexpected argument "${positionals[maxPositionals]}".`);
  return { values: values as OptionValues, positionals };
}

/** The catalog: the built-in toolkits, plus those of a `--toolkits` module. */
async function loadCatalog(modulePath: string | undefined): Promise<Toolkit[]> {
  const catalog = [...builtinToolkits];
  if (!modulePath) return catalog;
  const loaded = (await import(pathToFileURL(resolve(modulePath)).href)) as {
    default?: unknown;
    toolkits?: unknown;
  };
  const toolkits = loaded.toolkits ?? loaded.default;
  if (!Array.isArray(toolkits) || toolkits.some((toolkit) => toolkit?.kind !== 'toolmux.toolkit')) {
    throw new UsageError(
      `${modulePath} must export an array of toolkits (defineToolkit) as "toolkits" or as its default export.`,
    );
  }
  return [...catalog, ...(toolkits as Toolkit[])];
}

function storeOf(value: string | undefined, io: CliIo): string {
  return value ?? io.env.TOOLMUX_STORE ?? DEFAULT_STORE;
}

function sqlitePathOf(store: string): string | undefined {
  if (store === ':memory:' || store === 'sqlite::memory:') return undefined;
  if (store.startsWith('sqlite:')) return store.slice('sqlite:'.length);
  if (/^postgres(ql)?:\/\//.test(store)) return undefined;
  return store;
}

/**
 * The project API key: TOOLMUX_API_KEY, else a key file beside the SQLite database, created once
 * (mode 0600). A server on PostgreSQL or in memory has no such place: it needs the variable.
 */
function resolveApiKey(store: string, io: CliIo): { apiKey: string; source: string; keyFile?: string } {
  if (io.env.TOOLMUX_API_KEY) return { apiKey: io.env.TOOLMUX_API_KEY, source: 'TOOLMUX_API_KEY' };
  const databasePath = sqlitePathOf(store);
  if (!databasePath) {
    throw new UsageError(
      'Set TOOLMUX_API_KEY (e.g. `openssl rand -base64 32`): only a server on an SQLite file keeps its key in a file.',
    );
  }
  const keyFile = resolve(dirname(databasePath), 'api.key');
  if (existsSync(keyFile)) {
    return { apiKey: readFileSync(keyFile, 'utf8').trim(), source: keyFile, keyFile };
  }
  mkdirSync(dirname(keyFile), { recursive: true });
  const apiKey = `tmx_ak_${randomBytes(32).toString('base64url')}`;
  writeFileSync(keyFile, `${apiKey}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(keyFile, 0o600);
  return { apiKey, source: `${keyFile} (created now)`, keyFile };
}

function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

async function serve(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    port: { type: 'string' },
    host: { type: 'string' },
    store: { type: 'string' },
    'base-url': { type: 'string' },
    toolkits: { type: 'string' },
  });
  if (values.help) {
    io.stdout(`${HELP.serve}\n`);
    return 0;
  }
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  const portText = (values.port as string | undefined) ?? io.env.PORT ?? '8787';
  const requestedPort = Number(portText);
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65_535) {
    throw new UsageError(`--port must be a port number from 0 to 65535, got "${portText}".`);
  }
  const port = requestedPort === 0 ? await freePort(host) : requestedPort;
  const store = storeOf(values.store as string | undefined, io);
  const publicHost =
    host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const baseUrl =
    (values['base-url'] as string | undefined) ?? io.env.TOOLMUX_BASE_URL ?? `http://${publicHost}:${port}`;
  const { apiKey, source, keyFile } = resolveApiKey(store, io);
  const toolkits = await loadCatalog(values.toolkits as string | undefined);

  const toolmux = new ToolMux({ toolkits, store, baseUrl });
  const server = createServer({ toolmux, apiKey });
  const running = await server.serve({ port, hostname: host });
  const url = `http://${publicHost}:${running.port}`;
  const keyExpression = keyFile ? `$(cat ${shellQuote(keyFile)})` : '$TOOLMUX_API_KEY';
  io.stdout(
    [
      `toolmux server listening on ${url}`,
      `  store:    ${store.replace(/\/\/[^@/]*@/, '//***@')}`,
      `  toolkits: ${toolkits.length} (${toolkits.map((toolkit) => toolkit.slug).join(', ') || 'none'})`,
      `  API key:  ${source}`,
      `  OpenAPI:  ${url}/api/v1/openapi.json`,
      `  MCP:      ${baseUrl}/mcp/<sessionId> (Authorization: the session's token)`,
      `  SDK:      new ToolMux({ baseUrl: '${baseUrl}', apiKey }) from @toolmux/core (remote mode)`,
      '',
      'Try:',
      `  curl -s -H "Authorization: Bearer ${keyExpression}" ${url}/api/v1/toolkits`,
      `  curl -s -X POST -H "Authorization: Bearer ${keyExpression}" -H 'content-type: application/json' \\`,
      `    -d '{"user_id":"user_123"}' ${url}/api/v1/sessions`,
      '',
    ].join('\n'),
  );
  await io.stopSignal();
  await running.close();
  await toolmux.close();
  return 0;
}

function shellQuote(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return `${rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

async function listToolkits(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    search: { type: 'string' },
    toolkits: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout(`${HELP['toolkits list']}\n`);
    return 0;
  }
  const toolmux = new ToolMux({ toolkits: await loadCatalog(values.toolkits as string | undefined) });
  const { items } = await toolmux.toolkits.list({ search: values.search as string | undefined, limit: 500 });
  if (values.json) {
    io.stdout(`${JSON.stringify(items, null, 2)}\n`);
    return 0;
  }
  if (items.length === 0) {
    io.stdout('No toolkits.\n');
    return 0;
  }
  io.stdout(
    table([
      ['SLUG', 'NAME', 'AUTH', 'TOOLS', 'DESCRIPTION'],
      ...items.map((toolkit) => [
        toolkit.slug,
        toolkit.name,
        toolkit.noAuth ? 'none' : toolkit.authSchemes.join(','),
        String(toolkit.toolCount),
        toolkit.description.length > 70 ? `${toolkit.description.slice(0, 69)}…` : toolkit.description,
      ]),
    ]),
  );
  return 0;
}

async function toolkitInfo(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { toolkits: { type: 'string' }, json: { type: 'boolean' } }, 1);
  if (values.help) {
    io.stdout(`${HELP['toolkits info']}\n`);
    return 0;
  }
  const [slug] = positionals;
  if (!slug) throw new UsageError('toolkits info needs a toolkit slug, e.g. "toolmux toolkits info github".');
  const toolmux = new ToolMux({ toolkits: await loadCatalog(values.toolkits as string | undefined) });
  const toolkit = await toolmux.toolkits.get(slug);
  if (values.json) {
    io.stdout(`${JSON.stringify(toolkit, null, 2)}\n`);
    return 0;
  }
  io.stdout(
    [
      `${toolkit.name} (${toolkit.slug})`,
      toolkit.description,
      '',
      `auth:       ${toolkit.noAuth ? 'none' : toolkit.authSchemes.join(', ')}`,
      `categories: ${toolkit.categories.join(', ') || '-'}`,
      '',
      `${toolkit.toolCount} tools:`,
      table(toolkit.tools.map((tool) => [`  ${tool.slug}`, tool.description])).trimEnd(),
      '',
    ].join('\n'),
  );
  return 0;
}

async function listSessions(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    user: { type: 'string' },
    limit: { type: 'string' },
    store: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout(`${HELP['sessions list']}\n`);
    return 0;
  }
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  const toolmux = new ToolMux({ store: storeOf(values.store as string | undefined, io) });
  try {
    const { items } = await toolmux.sessions.list({ userId: values.user as string | undefined, limit });
    if (values.json) {
      io.stdout(`${JSON.stringify(items, null, 2)}\n`);
    } else if (items.length === 0) {
      io.stdout('No sessions.\n');
    } else {
      io.stdout(
        table([
          ['SESSION', 'USER', 'VERSION', 'UPDATED'],
          ...items.map((session) => [
            session.sessionId,
            session.userId,
            String(session.configVersion),
            session.updatedAt.toISOString(),
          ]),
        ]),
      );
    }
    return 0;
  } finally {
    await toolmux.close();
  }
}
