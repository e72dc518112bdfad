// The CLI's help, and the answer to a command line that asks only for it. Nothing here loads
// @toolmux/core, the toolkits or the server (about a second of CPU on a small machine): `toolmux`,
// `toolmux --help` and `toolmux serve --help` answer at once, as a person typing them expects.
import { readFileSync } from 'node:fs';
import { MIN_API_KEY_LENGTH } from '../api-key.js';
import { LOG_LEVELS } from '../log-levels.js';

/**
 * The bounds of `TOOLMUX_OAUTH_REQUEST_TIMEOUT_MS` as the help states them: core's
 * DEFAULT_OAUTH_REQUEST_TIMEOUT_MS and MAX_OAUTH_REQUEST_TIMEOUT_MS (help.test.ts checks they agree),
 * written here so that the help does not load core.
 */
export const OAUTH_REQUEST_TIMEOUT_MS = { default: 30_000, max: 300_000 } as const;

/** The store `toolmux serve` uses when nothing names one. */
export const DEFAULT_STORE = 'sqlite:./.toolmux/toolmux.db';

/** The CLI's help texts, by command. */
export const HELP = {
  main: `toolmux — a tool router for AI agents

Usage: toolmux <command> [options]

Commands:
  serve                  Start the server: REST API (/api/v1) and per-session MCP (/mcp/:sessionId)
  toolkits list          List the toolkits of the catalog
  toolkits info <slug>   Show one toolkit and its tools
  sessions list          List stored sessions, newest first
  keys rotate            Re-encrypt stored secrets under the current secret key

Options:
  -h, --help             Show help (also after any command)
  -v, --version          Print the version of toolmux (of @toolmux/server)

Run "toolmux <command> --help" or "toolmux help <command>" for the options of a command.`,
  serve: `Usage: toolmux serve [options]

Starts the toolmux server: REST API under /api/v1 (OpenAPI at /api/v1/openapi.json) and the
per-session MCP endpoint at /mcp/:sessionId.

Options (they override the config file; environment variables in brackets):
  --config <file>        Config file                                     [default: toolmux.config.{ts,mjs,js,json} in the working directory]
  --port <port>          Port to listen on (0: any free port)           [default: 8787, env PORT]
  --host <host>          Interface to listen on                          [default: 127.0.0.1, env TOOLMUX_HOST]
  --store <spec>         sqlite:<path> | postgres://… | :memory:         [default: ${DEFAULT_STORE}, env TOOLMUX_STORE]
  --base-url <url>       Where clients reach this server (MCP URLs)      [default: http://<host>:<port>, env TOOLMUX_BASE_URL]
  --toolkits <module>    Also serve the toolkits a module exports (a toolkit or an array, default export or "toolkits")
  --log-level <level>    ${LOG_LEVELS.join(' | ')}     [default: info, env TOOLMUX_LOG_LEVEL]
  --log-format <format>  json | pretty                                   [default: pretty on a terminal, else json, env TOOLMUX_LOG_FORMAT]
  -h, --help             Show this help

Cache lifetimes: TOOLMUX_ACCOUNT_CACHE_TTL_MS and TOOLMUX_SESSION_CACHE_TTL_MS (milliseconds, 0 turns
the cache off; default 2000), or accountCacheTtlMs / sessionCacheTtlMs in the config file.
The most of an API's answer one proxy call downloads: TOOLMUX_PROXY_MAX_RESPONSE_BYTES (default
33554432, 32 MiB), or proxyMaxResponseBytes in the config file.
How long one request to an OAuth provider's token or revocation endpoint may take:
TOOLMUX_OAUTH_REQUEST_TIMEOUT_MS (milliseconds, 1 to ${OAUTH_REQUEST_TIMEOUT_MS.max}; default ${OAUTH_REQUEST_TIMEOUT_MS.default}), or oauthRequestTimeoutMs in the config file.
How many days execution log entries are kept: TOOLMUX_LOG_RETENTION_DAYS (1 to 36500; default: every
entry is kept), or logRetentionDays in the config file.
Paths in the config file (toolkit modules, a relative SQLite store) are relative to the file; a
--store or TOOLMUX_STORE path is relative to the working directory.

The API key is TOOLMUX_API_KEY (at least ${MIN_API_KEY_LENGTH} characters); without it, a key file "api.key" (mode 0600) is created beside
the SQLite database. A PostgreSQL store needs TOOLMUX_API_KEY and TOOLMUX_SECRET_KEY.
GET /healthz, /readyz and /metrics (loopback or the API key) are for your orchestrator.`,
  'toolkits list': `Usage: toolmux toolkits list [options]

Lists the catalog the server would serve: the config file's toolkits (else the built-in ones).

Options:
  --config <file>        Config file                                     [default: toolmux.config.{ts,mjs,js,json} in the working directory]
  --search <text>        Only toolkits whose slug, name, description or keywords contain the text
  --toolkits <module>    Add the toolkits a module exports
  --json                 Print JSON
  -h, --help             Show this help`,
  'toolkits info': `Usage: toolmux toolkits info <slug> [options]

Options:
  --config <file>        Config file                                     [default: toolmux.config.{ts,mjs,js,json} in the working directory]
  --toolkits <module>    Add the toolkits a module exports
  --json                 Print JSON
  -h, --help             Show this help`,
  'sessions list': `Usage: toolmux sessions list [options]

Lists the sessions in the server's store (the config file's store unless --store or TOOLMUX_STORE
says otherwise), newest first. It reads only: a SQLite file that does not exist is an error, the
database is not migrated (one without toolmux tables, or at an older migration, is an error), and no
key is needed or created.

Options:
  --config <file>        Config file                                     [default: toolmux.config.{ts,mjs,js,json} in the working directory]
  --user <id>            Only sessions of this user
  --limit <n>            At most this many (1–1000)                      [default: 20]
  --cursor <cursor>      The page after a previous one (the command says the cursor on stderr when there are more)
  --store <spec>         sqlite:<path> | postgres://…                    [default: the config file's, else ${DEFAULT_STORE}, env TOOLMUX_STORE]
  --json                 Print JSON
  -h, --help             Show this help`,
  'keys rotate': `Usage: toolmux keys rotate [options]

Re-encrypts every stored secret (credentials, OAuth client secrets, open connections) under the
current secret key, as mux.vault.rotate() does, while servers keep running. Run it with the keys the
servers run with: the new key as TOOLMUX_SECRET_KEY (or secretKey in the config file) and the old
one in TOOLMUX_PREVIOUS_SECRET_KEYS (comma-separated). It prints how many records it rotated,
skipped (rewritten meanwhile) and could not decrypt, never a key, and exits 1 unless every record is
under the new key: run it again until then, and only then drop the old key.

Options:
  --config <file>        Config file                                     [default: toolmux.config.{ts,mjs,js,json} in the working directory]
  --store <spec>         sqlite:<path> | postgres://…                    [default: the config file's, else ${DEFAULT_STORE}, env TOOLMUX_STORE]
  -h, --help             Show this help`,
} as const;

/** The help of every command of a group (`toolmux toolkits` alone). */
export function groupHelp(group: 'toolkits' | 'sessions' | 'keys'): string {
  if (group === 'keys') return HELP['keys rotate'];
  return group === 'toolkits'
    ? `${HELP['toolkits list']}\n\n${HELP['toolkits info']}`
    : HELP['sessions list'];
}

const HELP_FLAGS = new Set(['--help', '-h']);
const VERSION_FLAGS = new Set(['--version', '-v']);

/** `toolmux --version`: the version of @toolmux/server, whose CLI this is. */
export function versionText(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** Whether the command line asks for the version: `toolmux --version` or `toolmux -v`, alone. */
export function asksForVersion(argv: readonly string[]): boolean {
  return argv.length === 1 && VERSION_FLAGS.has(argv[0]!);
}

/**
 * The help `toolmux help <words>` asks for: a command's (`help serve`, `help sessions list`), a
 * group's (`help toolkits`), the main help for `help help`; undefined when the words name no command.
 */
export function helpFor(words: readonly string[]): string | undefined {
  const named = words.join(' ');
  if (named === 'help') return HELP.main;
  if (named === 'toolkits' || named === 'sessions' || named === 'keys') return groupHelp(named);
  return named !== 'main' && Object.hasOwn(HELP, named) ? HELP[named as keyof typeof HELP] : undefined;
}

/**
 * What the CLI answers to `argv` when it asks only for help (or for the version): the text, for
 * stdout, exit code 0 (`toolmux` alone, and a group alone, `toolmux toolkits`, ask for it too);
 * undefined for any other command line, which `runCli` answers (the same texts, after checking every
 * option).
 */
export function helpOnly(argv: readonly string[]): string | undefined {
  const [command, subcommand, ...rest] = argv;
  if (command === undefined) return HELP.main;
  if (asksForVersion(argv)) return versionText();
  if (argv.length === 1 && (HELP_FLAGS.has(command) || command === 'help')) return HELP.main;
  if (command === 'help') return helpFor(argv.slice(1));
  if (command === 'serve') {
    return argv.length === 2 && HELP_FLAGS.has(subcommand!) ? HELP.serve : undefined;
  }
  if (command !== 'toolkits' && command !== 'sessions' && command !== 'keys') return undefined;
  if (subcommand === undefined || (argv.length === 2 && HELP_FLAGS.has(subcommand)))
    return groupHelp(command);
  const named = `${command} ${subcommand}`;
  if (rest.length === 1 && HELP_FLAGS.has(rest[0]!) && named in HELP) return HELP[named as keyof typeof HELP];
  return undefined;
}
