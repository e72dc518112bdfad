import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { existsSync } from 'node:fs';
import { createServer as createNetServer, isIP, type Server as NetServer } from 'node:net';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { type Toolkit, ToolMux, ToolMuxError } from '@toolmux/core';
import {
  type AppliedMigration,
  assertPageQuery,
  checkUserId,
  closeAfterDrain,
  DEFAULT_OAUTH_REQUEST_TIMEOUT_MS,
  LATEST_MIGRATION_VERSION,
  MAX_LOG_RETENTION_DAYS,
  MAX_OAUTH_REQUEST_TIMEOUT_MS,
  MAX_PAGE_LIMIT,
  MIGRATION_CHANNEL,
  type MigrationEvent,
  openStoreToRead,
  openToolMuxStore,
  parseSecretKey,
  parseStoreSpec,
  pendingMigrations,
  type RotationFailure,
  readOrCreateKeyFile,
  rotateSecretsReporting,
  type StoreSpec,
  sessionSummaryOf,
  shownStoreSpec,
  shownValue,
  withDeadline,
} from '@toolmux/core/internal';
import { builtinToolkits } from '@toolmux/toolkits';
import { MIN_API_KEY_LENGTH } from '../api-key.js';
import type { ApiKeySource } from '../api-key-source.js';
import {
  CONFIG_KEYS,
  findConfigFile,
  importModule,
  LOG_LEVELS,
  type LoadedConfig,
  type LogFormat,
  type LogLevel,
  loadConfigFile,
  toolkitsOfModule,
} from '../config.js';
import { type ConnectionSettings, connectionSettings } from '../connection-limit.js';
import { mcpSettings } from '../mcp/mcp-endpoint.js';
import { checkMetricsOptions } from '../metrics.js';
import { causeText } from '../request-log.js';
import { closeServing, createServer, serveOnListener } from '../server.js';
import { didYouMean } from '../suggest.js';
import { asksForVersion, DEFAULT_STORE, groupHelp, HELP, helpFor, versionText } from './help.js';
import { createCliLogger, serverLoggerOf } from './log.js';
import { oneLine, terminalCell, terminalText } from './terminal-text.js';

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Where a config file and relative paths are looked up. @default process.cwd() */
  cwd?: string;
  /** Whether stdout is a terminal (the default log format is pretty there, else JSON). @default false */
  isTty?: boolean;
  /** Resolves when the process should stop serving (SIGINT / SIGTERM / SIGHUP), with the signal. */
  stopSignal: () => Promise<NodeJS.Signals | undefined>;
  /**
   * Sends the process's warnings (`process.emitWarning`) to `write` from now on (`serve`: its log),
   * instead of stderr. @default warnings are left where they go
   */
  routeWarnings?: (write: (warning: Error, line: string) => void) => void;
}

/**
 * Something the operator typed or set that toolmux cannot take: a command, flag or argument, an
 * environment variable, a setting missing or at odds with another. Exit 2, with the help of the
 * command run; nothing was done.
 */
class UsageError extends Error {}
/** Acting on settings that are well-formed failed (a port in use, no database there): exit 1, one line. */
class StartupError extends Error {}

/**
 * The ToolMuxError codes of a setting refused as written (the config file, a store spec, a secret
 * key): the operator's to fix, so exit 2 as a usage error; any other code is a fault met while
 * working (a store that fails, a key file that cannot be written): exit 1.
 */
const SETTING_CODES: ReadonlySet<string> = new Set([
  'CONFIG_INVALID',
  'STORE_CONFIG_INVALID',
  'SECRET_KEY_INVALID',
]);

/** The command groups, by their subcommands (`toolmux toolkits list`). */
const GROUPS = {
  toolkits: ['list', 'info'],
  sessions: ['list'],
  keys: ['rotate'],
} as const satisfies Record<string, readonly string[]>;
type Group = keyof typeof GROUPS;

function isGroup(word: string | undefined): word is Group {
  return word !== undefined && Object.hasOwn(GROUPS, word);
}

/** The help that covers the command run: `toolmux serve --help`, `toolmux toolkits list --help`, `toolmux toolkits --help`, else `toolmux --help`. */
function helpOfCommand(argv: readonly string[]): string {
  const [command, subcommand] = argv;
  if (command === 'serve') return 'toolmux serve --help';
  if (!isGroup(command)) return 'toolmux --help';
  return (GROUPS[command] as readonly string[]).includes(subcommand ?? '')
    ? `toolmux ${command} ${subcommand} --help`
    : `toolmux ${command} --help`;
}

/** Runs one CLI invocation; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, subcommand] = argv;
  try {
    if (command === 'help' && argv.length > 1) {
      const text = helpFor(argv.slice(1));
      if (text === undefined) throw new UsageError(unknownHelp(argv.slice(1)));
      io.stdout(`${text}\n`);
      return 0;
    }
    // `toolmux` alone asks what there is, as `docker`, `kubectl` and `gh` alone do: the help, exit 0
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      io.stdout(`${HELP.main}\n`);
      return 0;
    }
    if (asksForVersion(argv)) {
      io.stdout(`${versionText()}\n`);
      return 0;
    }
    warnOfUnknownVariables(io);
    if (command === 'serve') return await serve(argv.slice(1), io);
    if (command === 'toolkits' && subcommand === 'list') return await listToolkits(argv.slice(2), io);
    if (command === 'toolkits' && subcommand === 'info') return await toolkitInfo(argv.slice(2), io);
    if (command === 'sessions' && subcommand === 'list') return await listSessions(argv.slice(2), io);
    if (command === 'keys' && subcommand === 'rotate') return await rotateKeys(argv.slice(2), io);
    if (isGroup(command) && (subcommand === undefined || subcommand === '--help' || subcommand === '-h')) {
      io.stdout(`${groupHelp(command)}\n`);
      return 0;
    }
    throw new UsageError(unknownCommand(argv));
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`toolmux: ${oneLine((error as Error).message)} (usage: ${helpOfCommand(argv)})\n`);
      return 2;
    }
    if (ToolMuxError.isInstance(error)) {
      io.stderr(`toolmux: ${oneLine(describeFailure(error))} (${error.code})\n`);
      return SETTING_CODES.has(error.code) ? 2 : 1;
    }
    if (error instanceof StartupError) {
      io.stderr(`toolmux: ${oneLine(error.message)}\n`);
      return 1;
    }
    // not ours: still one line; the stack only when asked for
    io.stderr(
      `toolmux: unexpected error: ${oneLine(causeText(error))}${io.env.TOOLMUX_DEBUG ? `\n${(error as Error)?.stack ?? ''}` : ' (set TOOLMUX_DEBUG=1 for the stack)'}\n`,
    );
    return 1;
  }
}

const COMMANDS = ['serve', 'toolkits list', 'toolkits info', 'sessions list', 'keys rotate', 'help'];

/** Every TOOLMUX_ variable toolmux reads (the CLI's, and core's TOOLMUX_WORKBENCH_* ones). */
const VARIABLES = [
  'TOOLMUX_API_KEY',
  'TOOLMUX_SECRET_KEY',
  'TOOLMUX_PREVIOUS_SECRET_KEYS',
  'TOOLMUX_STORE',
  'TOOLMUX_BASE_URL',
  'TOOLMUX_HOST',
  'TOOLMUX_LOG_LEVEL',
  'TOOLMUX_LOG_FORMAT',
  'TOOLMUX_DEBUG',
  'TOOLMUX_ACCOUNT_CACHE_TTL_MS',
  'TOOLMUX_SESSION_CACHE_TTL_MS',
  'TOOLMUX_PROXY_MAX_RESPONSE_BYTES',
  'TOOLMUX_OAUTH_REQUEST_TIMEOUT_MS',
  'TOOLMUX_LOG_RETENTION_DAYS',
  'TOOLMUX_WORKBENCH_THREAD',
  'TOOLMUX_WORKBENCH_JSPI',
  'TOOLMUX_WORKBENCH_SLICE_MS',
  'TOOLMUX_WORKBENCH_MAIN_HOLD_MS',
  'TOOLMUX_WORKBENCH_WORKERS',
  'TOOLMUX_WORKBENCH_MAX_WORKERS',
  'TOOLMUX_WORKBENCH_SPIN_US',
  'TOOLMUX_WORKBENCH_MAIN_SPIN_US',
];

/**
 * One warning line per TOOLMUX_ variable that toolmux does not read (a typo such as
 * TOOLMUX_SECRETKEY, or TOOLMUX_PORT / TOOLMUX_SHUTDOWN_TIMEOUT_MS for a setting without such a
 * variable): it was ignored in silence, the setting left at its default (a secret key file created
 * in place of the one meant). The project's test variables (TOOLMUX_TEST_*) are not toolmux's.
 */
function warnOfUnknownVariables(io: CliIo): void {
  for (const name of Object.keys(io.env).sort()) {
    if (!name.startsWith('TOOLMUX_') || name.startsWith('TOOLMUX_TEST_') || VARIABLES.includes(name))
      continue;
    const setting = name
      .slice('TOOLMUX_'.length)
      .toLowerCase()
      .replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
    const suffix = didYouMean(
      name.slice('TOOLMUX_'.length),
      VARIABLES.map((known) => known.slice('TOOLMUX_'.length)),
    );
    const meant = suffix === undefined ? undefined : `TOOLMUX_${suffix}`;
    const hint =
      setting === 'port'
        ? 'the port is PORT, or --port'
        : meant !== undefined
          ? `did you mean ${meant}?`
          : CONFIG_KEYS.includes(setting)
            ? `${setting} has no variable: set it in the config file`
            : `the variables are listed in docs/server.md`;
    io.stderr(
      `toolmux: warning: ${name} is set, but toolmux reads no such variable: it is ignored (${hint}).\n`,
    );
  }
}

function unknownCommand(argv: readonly string[]): string {
  const [command = '', subcommand = ''] = argv;
  if (isGroup(command)) {
    const commands = GROUPS[command].map(
      (name) => `"toolmux ${command} ${name}${name === 'info' ? ' <slug>' : ''}"`,
    );
    const listed = ` The ${command} commands: ${commands.join(', ')}.`;
    // `toolmux toolkits --json`: an option where the command goes
    if (subcommand.startsWith('-'))
      return `"toolmux ${command}" takes a command before its options.${listed}`;
    const meant = didYouMean(subcommand, GROUPS[command]);
    return `Unknown command "${command} ${subcommand}".${meant ? ` Did you mean "toolmux ${command} ${meant}"?` : listed}`;
  }
  if (command.startsWith('-')) {
    return `Unknown option "${command}": toolmux alone takes -h / --help and -v / --version; the options of a command follow it (toolmux serve --port 8080).`;
  }
  const typed =
    subcommand && !subcommand.startsWith('-') && command !== 'serve' ? `${command} ${subcommand}` : command;
  const suggestion =
    didYouMean(typed, COMMANDS) ?? didYouMean(command, ['serve', ...Object.keys(GROUPS), 'help']);
  return `Unknown command "${typed}".${suggestion ? ` Did you mean "toolmux ${suggestion}"?` : ''}`;
}

/** `toolmux help <words>` for words that name no command. */
function unknownHelp(words: readonly string[]): string {
  const typed = words.join(' ');
  const suggestion =
    didYouMean(
      typed,
      COMMANDS.filter((name) => name !== 'help'),
    ) ?? didYouMean(words[0] ?? '', ['serve', 'toolkits', 'sessions', 'keys']);
  return `There is no command "${typed}" to show the help of.${suggestion ? ` Did you mean "toolmux help ${suggestion}"?` : ' The commands: serve, toolkits list, toolkits info, sessions list, keys rotate.'}`;
}

/**
 * A ToolMuxError's message in the CLI's words (the `toolmux` command that fixes it, where there is
 * one), plus its cause when the message points at it (STORE_ERROR), with what to check for that kind
 * of store: a server for PostgreSQL, the file for SQLite.
 */
function describeFailure(error: ToolMuxError): string {
  if (error.code !== 'STORE_ERROR' || error.cause === undefined) return error.messageFor('cli');
  const operation = (error.details as { operation?: string } | undefined)?.operation ?? 'answer';
  const store = (error.details as { store?: string } | undefined)?.store;
  const cause = causeText(error.cause);
  const fix = (error.details as { fix?: unknown } | undefined)?.fix;
  const check =
    typeof fix === 'string'
      ? fix
      : /^postgres(?:ql)?:/i.test(store ?? '')
        ? 'Check that the database is running and reachable at this address with these credentials'
        : 'Check that the file is an SQLite database (or does not exist yet) and that this process may read and write it and its directory';
  return `The store${store ? ` ${store}` : ''} failed to ${operation}: ${cause}. ${check}, or set another with --store / TOOLMUX_STORE.`;
}

type OptionValues = Record<string, string | boolean | undefined>;

/** What each option that takes a value takes, and a value for the example of a message. */
const OPTION_VALUES: Record<string, { takes: string; example: string }> = {
  config: { takes: 'a config file', example: 'toolmux.config.json' },
  port: { takes: 'a port number from 0 to 65535', example: '8080' },
  host: { takes: 'an IP address or a host name', example: '0.0.0.0' },
  store: { takes: 'a store (sqlite:<path>, postgres://… or :memory:)', example: 'sqlite:./data/toolmux.db' },
  'base-url': { takes: 'the URL clients reach the server at', example: 'https://tools.example.com' },
  toolkits: { takes: 'a module that exports toolkits', example: './toolkits.mjs' },
  'log-level': { takes: `a log level (${LOG_LEVELS.join(', ')})`, example: 'debug' },
  'log-format': { takes: 'a log format (json or pretty)', example: 'pretty' },
  search: { takes: 'the text to look for', example: 'mail' },
  user: { takes: 'a user id', example: 'user_123' },
  limit: { takes: `a whole number from 1 to ${MAX_PAGE_LIMIT}`, example: '50' },
  cursor: { takes: 'the cursor a previous page printed on stderr', example: 'ses_…' },
};

/**
 * node:util parseArgs, strict, with `-h/--help` on every command. What it would refuse is refused
 * first, in the CLI's words, naming the flag and the fix: an unknown flag (with "did you mean"), a
 * flag without its value, a value that starts with a dash (`--user -bob`: `--user=-bob`), a value
 * given to a flag that takes none.
 */
function parse(
  args: readonly string[],
  options: Record<string, { type: 'string' | 'boolean' }>,
  maxPositionals = 0,
): { values: OptionValues; positionals: string[] } {
  const known = [...Object.keys(options), 'help'];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--') break;
    const name = /^--([^=]+)/.exec(arg)?.[1];
    if (name === undefined) {
      if (/^-[^-]/.test(arg) && arg !== '-h') throw unknownShortOption(arg, known);
      continue;
    }
    if (!known.includes(name)) {
      const suggestion = didYouMean(name, known);
      throw new UsageError(
        `Unknown option "--${name}".${suggestion ? ` Did you mean "--${suggestion}"?` : ''}`,
      );
    }
    if (options[name]?.type !== 'string') {
      if (arg.includes('=')) {
        throw new UsageError(
          `--${name} takes no value, got "${arg.slice(name.length + 3)}": write --${name} alone.`,
        );
      }
      continue;
    }
    if (arg.includes('=')) continue;
    // the value of `--port 8080` is the next word, which node:util refuses when it looks like an option
    const value = args[++index];
    const { takes, example } = OPTION_VALUES[name] ?? { takes: 'a value', example: 'value' };
    if (value === undefined) {
      throw new UsageError(
        `--${name} takes ${takes}, and nothing followed it: give it one (--${name} ${example}), or leave --${name} out.`,
      );
    }
    if (value.length > 1 && value.startsWith('-')) {
      throw new UsageError(
        `--${name} takes ${takes}, and the word after it, "${value}", starts with a dash, so it is not read as its value: write --${name}=${value} if that is the value, else give --${name} one before it (--${name} ${example}).`,
      );
    }
  }
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { ...options, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > maxPositionals)
    throw new UsageError(`Unexpected argument "${positionals[maxPositionals]}".`);
  // `--port=` or `--port "$UNSET"`: an empty value was read as no flag at all by some options (the
  // variable's or the file's value taken instead, the error naming the variable), as a value by others
  for (const [name, value] of Object.entries(values as OptionValues)) {
    if (value === '') {
      throw new UsageError(
        `--${name} needs a value, got an empty one: give it one, or leave --${name} out for its default.`,
      );
    }
  }
  return { values: values as OptionValues, positionals };
}

/**
 * A single-dash option other than `-h`: `-p 8080` (there are no short options but `-h`) or `-port
 * 8080` (one dash). node:util's own message read it as letters and said to write a positional
 * argument after `--`; this one names the long option meant, when one is near.
 */
function unknownShortOption(arg: string, known: readonly string[]): UsageError {
  const typed = arg.replace(/=.*$/, '');
  const letters = typed.slice(1);
  const startingSo = known.filter((option) => option.startsWith(letters.toLowerCase()));
  const meant =
    letters.length === 1
      ? startingSo.length === 1
        ? startingSo[0]
        : undefined
      : known.includes(letters)
        ? letters
        : didYouMean(letters, known);
  return new UsageError(
    `Unknown option "${typed}": options are written --name (the only short one is -h).${meant ? ` Did you mean "--${meant}"?` : ` The options: ${known.map((option) => `--${option}`).join(', ')}.`}`,
  );
}

/** The catalog: `base` (the built-in toolkits unless a config file names its own), plus a `--toolkits` module's. */
async function loadCatalog(
  modulePath: string | undefined,
  base: readonly Toolkit[] = builtinToolkits,
  cwd = process.cwd(),
): Promise<Toolkit[]> {
  const catalog = [...base];
  if (!modulePath) return catalog;
  const what = `--toolkits ${modulePath}`;
  const added = toolkitsOfModule(await importModule(modulePath, cwd, what), what);
  const known = new Map(catalog.map((toolkit) => [toolkit.slug, toolkit]));
  // a toolkit the catalog has already (the config file's module named again) is served once; another
  // toolkit under its slug would be dropped in silence, so it is a mistake to name
  const shadowing = added.find((toolkit) => known.has(toolkit.slug) && known.get(toolkit.slug) !== toolkit);
  if (shadowing) {
    throw new UsageError(
      `${what}: its toolkit "${shadowing.slug}" has the slug of one the catalog has already (${known.get(shadowing.slug)!.name}), so it would not be served. Give it a slug of its own, or, to serve it instead, list the toolkits in the config file's "toolkits" without the other one.`,
    );
  }
  return [...catalog, ...added.filter((toolkit) => !known.has(toolkit.slug))];
}

/**
 * The config file every command reads, as `serve` does: `--config <file>`, else the
 * `toolmux.config.*` of the working directory, else none. Flags and environment variables override it.
 */
async function readConfig(
  explicit: string | undefined,
  cwd: string,
): Promise<{ config: LoadedConfig; file: string | undefined }> {
  const file = findConfigFile(explicit, cwd);
  return { config: file ? await loadConfigFile(file) : {}, file };
}

/** The SQLite file a store spec names (undefined for memory and PostgreSQL); STORE_CONFIG_INVALID for a bad spec. */
function sqlitePathOf(store: string): string | undefined {
  const spec = parseStoreSpec(store);
  return spec.dialect === 'sqlite' && spec.path !== ':memory:' ? spec.path : undefined;
}

/**
 * `source` as a caller the server refuses reads it (any caller, before it shows a key): a file inside
 * the server's working directory by its path from there (`./.toolmux/api.key`); one elsewhere by its
 * name and where to find the rest, as the machine's layout (a user's home directory) is not for
 * every caller to read. The startup line names the whole path.
 */
function shownToCallers(source: ApiKeySource): ApiKeySource {
  const shown = (path: string) => {
    const inside = relative(process.cwd(), path);
    return inside !== '' && !inside.startsWith('..') && !isAbsolute(inside)
      ? `./${inside.split(sep).join('/')}`
      : `${basename(path)} (the whole path is in the server's startup log)`;
  };
  if ('file' in source) return { file: shown(source.file) };
  if ('configFile' in source) return { configFile: shown(source.configFile) };
  return source;
}

/**
 * The project API key: TOOLMUX_API_KEY, else a key file beside the SQLite database, created once
 * (mode 0600). A server on PostgreSQL or in memory has no such place: it needs the variable.
 */
function resolveApiKey(
  store: string,
  io: CliIo,
  fromConfig?: { apiKey: string; file: string },
): { apiKey: string; source: string; keyFile?: string; origin: ApiKeySource } {
  const fromEnv = env(io, 'TOOLMUX_API_KEY');
  if (fromEnv)
    return checkedApiKey(
      { apiKey: fromEnv, source: 'TOOLMUX_API_KEY', origin: { variable: 'TOOLMUX_API_KEY' } },
      'TOOLMUX_API_KEY',
    );
  if (fromConfig) {
    const source = `apiKey of ${fromConfig.file}`;
    return checkedApiKey(
      { apiKey: fromConfig.apiKey, source, origin: { configFile: fromConfig.file } },
      source,
    );
  }
  const databasePath = sqlitePathOf(store);
  if (!databasePath) {
    throw new UsageError(
      'Set TOOLMUX_API_KEY (e.g. `openssl rand -base64 32`): only a server on an SQLite file keeps its key in a file.',
    );
  }
  const keyFile = resolve(dirname(databasePath), 'api.key');
  const file = readOrCreateKeyFile(
    keyFile,
    () => `tmx_ak_${randomBytes(32).toString('base64url')}\n`,
    'TOOLMUX_API_KEY',
  );
  // there before, or another process that started at once created it first
  if (!file.created)
    return checkedApiKey(
      { apiKey: file.contents.trim(), source: keyFile, keyFile, origin: { file: keyFile } },
      `the key file ${keyFile}`,
    );
  return {
    apiKey: file.contents.trim(),
    source: `${keyFile} (created now)`,
    keyFile,
    origin: { file: keyFile },
  };
}

/** The key as is when it is long enough; else the one line naming where it came from (never the key). */
function checkedApiKey<T extends { apiKey: string }>(found: T, where: string): T {
  if (found.apiKey.length >= MIN_API_KEY_LENGTH) return found;
  throw new UsageError(
    `The project API key from ${where} is ${found.apiKey.length} characters; it needs at least ${MIN_API_KEY_LENGTH}. Set a longer one (e.g. \`openssl rand -base64 32\`).`,
  );
}

/**
 * The secret key of a command, checked before anything is created: TOOLMUX_SECRET_KEY, else the
 * config file's `secretKey`; and the earlier keys of TOOLMUX_PREVIOUS_SECRET_KEYS (comma-separated).
 * A malformed one is SECRET_KEY_INVALID naming where it came from.
 */
function checkedSecretKey(
  io: CliIo,
  config: LoadedConfig,
  configName: string | undefined,
): { secretKey: string | undefined; previousSecretKeys: string[] } {
  const fromEnv = env(io, 'TOOLMUX_SECRET_KEY');
  if (fromEnv) parseSecretKey(fromEnv, 'TOOLMUX_SECRET_KEY');
  else if (config.secretKey)
    parseSecretKey(config.secretKey, `secretKey of ${configName ?? 'the config file'}`);
  // the earlier keys of a rotation, checked here and handed to core as they are (read from this
  // command's environment, once)
  const previousSecretKeys = (env(io, 'TOOLMUX_PREVIOUS_SECRET_KEYS') ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
  previousSecretKeys.forEach((key, index) => {
    parseSecretKey(key, `TOOLMUX_PREVIOUS_SECRET_KEYS (entry ${index + 1})`);
  });
  return { secretKey: fromEnv ?? config.secretKey, previousSecretKeys };
}

/** A cache lifetime: the environment variable (milliseconds, 0 or more) over the config file's value. */
function cacheTtlOf(io: CliIo, name: string, fromConfig: number | undefined): number | undefined {
  return wholeNumberOf(io, name, fromConfig, {
    min: 0,
    must: 'a whole number of milliseconds, 0 or more (0 turns the cache off)',
  });
}

/**
 * A whole number setting: its environment variable over the config file's value. A variable that is
 * not a whole number from `min` to `max` is a usage error: `must` says what it must be.
 */
function wholeNumberOf(
  io: CliIo,
  name: string,
  fromConfig: number | undefined,
  rule: { min: number; max?: number; must: string },
): number | undefined {
  const text = env(io, name);
  if (text === undefined) return fromConfig;
  const value = decimalOf(text);
  if (!Number.isSafeInteger(value) || value < rule.min || value > (rule.max ?? Number.MAX_SAFE_INTEGER)) {
    throw new UsageError(`${name} must be ${rule.must}, got "${text}".`);
  }
  return value;
}

/**
 * Port 0: a socket bound and listening on the port the system picks, which the server takes over
 * once the store is open (`serveOnListener`), so that the base URL can name the port before the
 * server is made, and no other process can take the port in between (a probe closed and bound again
 * after the migrations could lose it). A connection made before the server serves is closed.
 */
function bindFreePort(host: string): Promise<NetServer> {
  return new Promise((resolveBound, reject) => {
    const bound = createNetServer((socket) => socket.destroy());
    bound.once('error', reject);
    bound.listen(0, host, () => {
      bound.off('error', reject);
      resolveBound(bound);
    });
  });
}

/** An environment variable, unset when empty. */
function env(io: CliIo, name: string): string | undefined {
  const value = io.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  const suggestion = didYouMean(value, allowed);
  throw new UsageError(
    `${name} must be one of ${allowed.join(', ')}, got "${value}".${suggestion ? ` Did you mean "${suggestion}"?` : ''}`,
  );
}

/** `--limit` of `sessions list`: a whole number from 1 to 1000, in decimal digits; else a usage error naming the text. */
function limitOf(text: string): number {
  const limit = decimalOf(text);
  if (!(limit >= 1 && limit <= MAX_PAGE_LIMIT)) {
    throw new UsageError(
      `--limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}, got ${shownValue(text)}.`,
    );
  }
  return limit;
}

/** `--cursor` of `sessions list`, checked as the store checks it, before the store is opened. */
function sessionCursorOf(text: string, limit: number): string {
  try {
    assertPageQuery({ limit, cursor: text }, 'ses');
  } catch (error) {
    if (!ToolMuxError.isInstance(error) || error.code !== 'INVALID_REQUEST') throw error;
    throw new UsageError(
      `--cursor must be the cursor a previous page printed on stderr ("there are more sessions: run the same command with --cursor ses_…"), got ${shownValue(text)}; leave it out for the first page.`,
    );
  }
  return text;
}

/**
 * A whole number typed as text: decimal digits only, else NaN. `Number()` alone would take `0x10`,
 * `1e3`, `0b1`, ` 80` and `80.0` as numbers nobody meant.
 */
function decimalOf(text: string): number {
  return /^[0-9]{1,16}$/.test(text) ? Number(text) : Number.NaN;
}

function portOf(text: string, name: string): number {
  const port = decimalOf(text);
  if (!(port >= 0 && port <= 65_535)) {
    throw new UsageError(`${name} must be a port number from 0 to 65535, got "${text}".`);
  }
  return port;
}

/**
 * The interface to listen on: an IP address or a host name (`[::1]` taken as `::1`). Anything else
 * (a port, a scheme, a space) would make no base URL, so it is refused here, naming where it came from.
 */
function hostOf(text: string, name: string, refusal: (message: string) => Error): string {
  const host = /^\[(.*)\]$/.exec(text)?.[1] ?? text;
  if (isIP(host) !== 0) return host;
  let parsed: string | undefined;
  try {
    parsed = new URL(`http://${host}/`).hostname;
  } catch {}
  if (parsed !== undefined && parsed === host.toLowerCase() && /^[\w.-]+$/.test(host)) return host;
  const port = /^[^:]*:\d+$/.test(host) ? ' (no port: that is --port / PORT)' : '';
  throw refusal(
    `${name} must be an IP address or a host name, got "${text}"${port}: e.g. 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or ::.`,
  );
}

/**
 * Each `managedAuth` entry names a toolkit of the catalog that connects with OAuth: any other entry
 * would never be used (a misspelled slug), and connecting that toolkit would fail later.
 */
function checkManagedAuth(
  managedAuth: LoadedConfig['managedAuth'],
  toolkits: readonly Toolkit[],
  configName: string | undefined,
): void {
  for (const slug of Object.keys(managedAuth ?? {})) {
    const where = `${configName ?? 'the config file'}: managedAuth.${slug}`;
    const toolkit = toolkits.find((candidate) => candidate.slug === slug);
    if (!toolkit) {
      const suggestion = didYouMean(
        slug,
        toolkits.map((candidate) => candidate.slug),
      );
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `${where}: there is no toolkit "${slug}" in the catalog.${suggestion ? ` Did you mean "${suggestion}"?` : ''} managedAuth is keyed by toolkit slug (\`toolmux toolkits list\` shows them).`,
      });
    }
    const schemes = toolkit.auth.map((scheme) => scheme.type);
    if (!schemes.includes('oauth2')) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `${where}: toolkit "${slug}" does not connect with OAuth (it uses ${schemes.join(', ') || 'no auth'}), so an OAuth app is never used for it; remove the entry.`,
      });
    }
  }
}

/** The one line for a port that cannot be bound. */
function listenFailure(error: unknown, host: string, port: number): Error {
  const code = (error as { code?: string }).code;
  if (code === 'EADDRINUSE') {
    return new StartupError(
      `Port ${port} on ${host} is already in use (EADDRINUSE): stop the process that holds it, or pick another port with --port / PORT (0 picks a free one).`,
    );
  }
  if (code === 'EACCES') {
    return new StartupError(
      `Listening on port ${port} needs privileges this user lacks (EACCES): use a port above 1023 with --port / PORT.`,
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new StartupError(
      `Cannot listen on host "${host}" (${code}): it is no address of this machine; use 127.0.0.1, 0.0.0.0 or one of its addresses with --host / TOOLMUX_HOST.`,
    );
  }
  return error as Error;
}

/**
 * `toolmux serve`: reads the config (file < environment < flags), then checks everything before it
 * says it is listening: the config, the toolkits modules, the store (opened and migrated), the secret
 * key and the port. A mistake is one line and a non-zero exit.
 */
async function serve(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    store: { type: 'string' },
    'base-url': { type: 'string' },
    toolkits: { type: 'string' },
    'log-level': { type: 'string' },
    'log-format': { type: 'string' },
  });
  if (values.help) {
    io.stdout(`${HELP.serve}\n`);
    return 0;
  }
  const flag = (name: string) => values[name] as string | undefined;
  const cwd = io.cwd ?? process.cwd();
  const { config, file: configName } = await readConfig(flag('config'), cwd);

  const logLevelText = flag('log-level') ?? env(io, 'TOOLMUX_LOG_LEVEL');
  const logLevel: LogLevel = logLevelText
    ? oneOf(logLevelText, LOG_LEVELS, flag('log-level') ? '--log-level' : 'TOOLMUX_LOG_LEVEL')
    : (config.log?.level ?? 'info');
  const logFormatText = flag('log-format') ?? env(io, 'TOOLMUX_LOG_FORMAT');
  const logFormat: LogFormat = logFormatText
    ? oneOf(
        logFormatText,
        ['json', 'pretty'] as const,
        flag('log-format') ? '--log-format' : 'TOOLMUX_LOG_FORMAT',
      )
    : (config.log?.format ?? (io.isTty ? 'pretty' : 'json'));

  const hostText = flag('host') ?? env(io, 'TOOLMUX_HOST');
  const host =
    hostText !== undefined
      ? hostOf(hostText, flag('host') ? '--host' : 'TOOLMUX_HOST', (message) => new UsageError(message))
      : config.host !== undefined
        ? hostOf(
            config.host,
            `${configName}: host`,
            (message) => new ToolMuxError({ code: 'CONFIG_INVALID', message }),
          )
        : '127.0.0.1';
  const portText = flag('port') ?? env(io, 'PORT');
  const requestedPort =
    portText !== undefined ? portOf(portText, flag('port') ? '--port' : 'PORT') : (config.port ?? 8787);
  // a bad spec fails here, before anything is created on disk, naming where it was set
  const [typedStore, storeFrom, storeSpec] = storeAndSource(flag('store'), io, config.store, configName, cwd);
  // an SQLite file by its absolute path: opened, and named in the startup line, as found
  const store =
    storeSpec.dialect === 'sqlite' && storeSpec.path !== ':memory:' ? `sqlite:${storeSpec.path}` : typedStore;
  // so do a malformed secret key and bad cache lifetimes
  const { secretKey, previousSecretKeys } = checkedSecretKey(io, config, configName);
  const accountCacheTtlMs = cacheTtlOf(io, 'TOOLMUX_ACCOUNT_CACHE_TTL_MS', config.accountCacheTtlMs);
  const sessionCacheTtlMs = cacheTtlOf(io, 'TOOLMUX_SESSION_CACHE_TTL_MS', config.sessionCacheTtlMs);
  const proxyMaxResponseBytes = wholeNumberOf(
    io,
    'TOOLMUX_PROXY_MAX_RESPONSE_BYTES',
    config.proxyMaxResponseBytes,
    {
      min: 1,
      must: "a whole number of bytes, 1 or more (the most of an API's answer one proxy call downloads; default 33554432, 32 MiB)",
    },
  );
  const oauthRequestTimeoutMs = wholeNumberOf(
    io,
    'TOOLMUX_OAUTH_REQUEST_TIMEOUT_MS',
    config.oauthRequestTimeoutMs,
    {
      min: 1,
      max: MAX_OAUTH_REQUEST_TIMEOUT_MS,
      must: `a whole number of milliseconds from 1 to ${MAX_OAUTH_REQUEST_TIMEOUT_MS} (how long one request to an OAuth provider's token or revocation endpoint may take; default ${DEFAULT_OAUTH_REQUEST_TIMEOUT_MS})`,
    },
  );
  const logRetentionDays = wholeNumberOf(io, 'TOOLMUX_LOG_RETENTION_DAYS', config.logRetentionDays, {
    min: 1,
    max: MAX_LOG_RETENTION_DAYS,
    must: `a whole number of days from 1 to ${MAX_LOG_RETENTION_DAYS} (how long execution log entries are kept; default: every entry is kept)`,
  });
  const toolkits = await loadCatalog(flag('toolkits'), config.toolkits ?? builtinToolkits, cwd);
  checkManagedAuth(config.managedAuth, toolkits, configName);
  // the settings createServer() checks, which only the config file sets: checked here, before a file
  // is written or the store opened, naming the file
  let connections: ConnectionSettings;
  try {
    checkMetricsOptions(config.metrics ?? {});
    connections = connectionSettings(config.connections);
    mcpSettings(config.mcp ?? {});
  } catch (error) {
    throw inConfigFile(error, configName);
  }
  const log = createCliLogger({ level: logLevel, format: logFormat, write: io.stdout });
  const logger = serverLoggerOf(log);
  // a library's notice (pg's about sslmode=require while the store opens) is a line of the log
  io.routeWarnings?.((warning, line) => {
    const code = (warning as { code?: unknown }).code;
    log.warn({ warning: warning.name, ...(typeof code === 'string' ? { code } : {}) }, `warning: ${line}`);
  });
  const bound =
    requestedPort === 0
      ? await bindFreePort(host).catch((error) => Promise.reject(listenFailure(error, host, 0)))
      : undefined;
  const port = bound === undefined ? requestedPort : (bound.address() as { port: number }).port;
  // every interface: the address clients reach is not known here, and links name this machine
  const everyInterface = host === '0.0.0.0' || host === '::';
  const publicHost = everyInterface ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const baseUrl =
    flag('base-url') ?? env(io, 'TOOLMUX_BASE_URL') ?? config.baseUrl ?? `http://${publicHost}:${port}`;
  const baseUrlFrom = flag('base-url')
    ? '--base-url'
    : env(io, 'TOOLMUX_BASE_URL')
      ? 'TOOLMUX_BASE_URL'
      : config.baseUrl
        ? `${configName}: baseUrl`
        : undefined;
  const shownStore = shownStoreSpec(store);
  // the socket bound for port 0 is closed on every way out until the server takes it over
  let boundTaken = false;
  const releaseBound = () => {
    if (bound !== undefined && !boundTaken) bound.close();
  };
  let toolmux: ToolMux;
  try {
    toolmux = new ToolMux({
      toolkits,
      store,
      baseUrl,
      logger,
      secretKey,
      previousSecretKeys,
      accountCacheTtlMs,
      proxyMaxResponseBytes,
      oauthRequestTimeoutMs,
      logRetentionDays,
      managedAuth: config.managedAuth,
      allowedCallbackUrls: config.allowedCallbackUrls,
      defaultCallbackUrl: config.defaultCallbackUrl,
    });
  } catch (error) {
    releaseBound();
    // core names its option; the operator typed a flag, a variable or a key of the config file
    if (ToolMuxError.isInstance(error) && baseUrlFrom && error.message.startsWith('baseUrl ')) {
      throw new ToolMuxError({
        code: error.code,
        message: `${baseUrlFrom}${error.message.slice('baseUrl'.length)}`,
        details: error.details,
      });
    }
    // options only the config file sets
    if (
      ToolMuxError.isInstance(error) &&
      /^(allowedCallbackUrls|defaultCallbackUrl|managedAuth)\b/.test(error.message)
    ) {
      throw inConfigFile(error, configName);
    }
    throw error;
  }
  // after every setting was checked (new ToolMux() checks its own): a key file is the first thing
  // written on disk
  let keys: ReturnType<typeof resolveApiKey>;
  try {
    keys = resolveApiKey(
      store,
      io,
      config.apiKey && configName ? { apiKey: config.apiKey, file: configName } : undefined,
    );
  } catch (error) {
    releaseBound();
    throw error;
  }
  const { apiKey, source, keyFile, origin } = keys;
  let storeOpened = false;
  // the drain's time, once it ended: the calls still running then had it
  let drained: number | undefined;
  try {
    // store reachable and migrated, secret key present and valid, in bounded time: a database that
    // accepts the connection but never answers must not hold the start forever
    const startupTimeoutMs = config.startupTimeoutMs ?? 30_000;
    const opening = openToolMuxStore(toolmux).catch((error: unknown) => {
      if (ToolMuxError.isInstance(error) && error.code === 'STORE_ERROR') {
        throw new ToolMuxError({
          code: 'STORE_ERROR',
          message: error.message,
          cause: error.cause,
          details: { ...error.details, store: shownStore },
        });
      }
      throw error;
    });
    // A store that applies migrations has answered: a long one (an index of a large table) goes on
    // past the deadline, each of its statements bounded by the store's migration_timeout; an
    // instance that gave up here would roll it back, and the next start would begin it again.
    let migrating = false;
    const onMigration = (message: unknown) => {
      const { version, name, concurrently, fresh } = message as MigrationEvent;
      migrating = true;
      // a new database's schema is made by all of them, in milliseconds: one line each only at debug
      log[fresh ? 'debug' : 'info'](
        { migration: version, name, concurrently },
        `toolmux: applying migration ${version} (${name})${concurrently ? ', its indexes built CONCURRENTLY (the table stays writable)' : ''}`,
      );
    };
    subscribe(MIGRATION_CHANNEL, onMigration);
    try {
      await withDeadline(
        opening,
        startupTimeoutMs,
        () =>
          new StartupError(
            `The store ${shownStore} did not answer within ${startupTimeoutMs} ms (connecting and reading its migrations): check that its host and port are those of the database and that nothing drops the traffic; if another instance is migrating it (upgrading), start this one once that one is done, or raise startupTimeoutMs in the config file.`,
          ),
        () => migrating,
      );
    } finally {
      unsubscribe(MIGRATION_CHANNEL, onMigration);
    }
    storeOpened = true;
    const server = createServer({
      toolmux,
      apiKey,
      // a refused caller is told the file (or variable) this server read its key from
      apiKeySource: shownToCallers(origin),
      logger,
      bodyLimit: config.bodyLimit,
      sessionCacheTtlMs,
      metrics: config.metrics,
      mcp: config.mcp,
      connections: config.connections,
    });
    // from here on SIGTERM / SIGINT / SIGHUP drain the server (a signal right after "listening" included)
    const stopped = io.stopSignal();
    boundTaken = bound !== undefined;
    const running = await (bound === undefined
      ? server.serve({ port, hostname: host })
      : serveOnListener(server, bound)
    ).catch((error: unknown) => Promise.reject(listenFailure(error, host, port)));
    const url = `http://${publicHost}:${running.port}`;
    const { perClient, unlimitedEntries: unlimited } = connections;
    if (everyInterface && baseUrlFrom === undefined) {
      // a container or a host served to others: MCP URLs, connection links and the OAuth redirect_uri
      // would send every client and browser to its own machine
      log.warn(
        { base_url: baseUrl, host },
        `toolmux: no base URL is set and the server listens on every interface (host ${host}), so session MCP URLs, connection links and the OAuth callback (redirect_uri) name ${baseUrl}, which reaches this server only from this machine. Set TOOLMUX_BASE_URL (or --base-url, or baseUrl in the config file) to the address clients and browsers reach it at, e.g. https://tools.example.com.`,
      );
    }
    if (logFormat === 'json') {
      log.info(
        {
          url,
          base_url: baseUrl,
          store: shownStore,
          store_from: storeFrom,
          toolkits: toolkits.length,
          api_key: source,
          config: configName ?? null,
          connections_per_client: perClient,
          connections_unlimited: unlimited,
        },
        `toolmux server listening on ${url}`,
      );
    } else {
      const keyExpression = keyFile ? `$(cat ${shellQuote(keyFile)})` : '$TOOLMUX_API_KEY';
      io.stdout(
        [
          `toolmux server listening on ${url}`,
          `  config:   ${configName ?? 'none (flags, environment and defaults)'}`,
          `  store:    ${shownStore} (${storeFrom})`,
          `  toolkits: ${toolkits.length} (${toolkits.map((toolkit) => toolkit.slug).join(', ') || 'none'})`,
          `  API key:  ${source}`,
          `  OpenAPI:  ${url}/api/v1/openapi.json`,
          `  MCP:      ${baseUrl}/mcp/<sessionId> (Authorization: the session's token)`,
          `  SDK:      new ToolMux({ baseUrl: '${baseUrl}', apiKey }) from @toolmux/core (remote mode)`,
          `  health:   ${url}/healthz, ${url}/readyz, ${url}/metrics`,
          `  clients:  ${perClient === 0 ? 'any number of connections each' : `${perClient.toLocaleString('en')} connections each`} (connections.perClient); not counted: ${unlimited.join(', ') || 'none'}`,
          '',
          'Try:',
          `  curl -s -H "Authorization: Bearer ${keyExpression}" ${url}/api/v1/toolkits`,
          `  curl -s -X POST -H "Authorization: Bearer ${keyExpression}" -H 'content-type: application/json' \\`,
          `    -d '{"user_id":"user_123"}' ${url}/api/v1/sessions`,
          '',
        ].join('\n'),
      );
    }
    const signal = await stopped;
    const timeoutMs = config.shutdownTimeoutMs ?? 10_000;
    const delayMs = config.shutdownDelayMs ?? 0;
    log.info(
      { ...(signal ? { signal } : {}), timeout_ms: timeoutMs, delay_ms: delayMs },
      delayMs > 0
        ? 'toolmux server stopping: /readyz answers 503, serving on until the delay ends, then draining in-flight requests'
        : 'toolmux server stopping: draining in-flight requests',
    );
    await closeServing(running, { timeoutMs, delayMs }, 'shutdownTimeoutMs');
    drained = timeoutMs;
  } finally {
    releaseBound();
    // flushes the execution log; a store that never opened has nothing to flush (and closing would
    // wait for it): the CLI exits without it. The requests had their drain time: tool calls still
    // running (their clients were cut off) are stopped now, their log entries written, and the
    // warning naming them names shutdownTimeoutMs (what gave them their time), not close()'s 0 ms.
    if (storeOpened && drained !== undefined) {
      await closeAfterDrain(toolmux, { setting: 'shutdownTimeoutMs', ms: drained });
    } else if (storeOpened) await toolmux.close({ timeoutMs: 0 });
    else void toolmux.close().catch(() => {});
  }
  log.info('toolmux server stopped');
  return 0;
}

/**
 * A refused setting of the config file as `CONFIG_INVALID`, its message led by the file's path (the
 * checks name the setting only).
 */
function inConfigFile(error: unknown, configName: string | undefined): unknown {
  if (!ToolMuxError.isInstance(error)) return error;
  return new ToolMuxError({
    code: 'CONFIG_INVALID',
    message: configName ? `${configName}: ${error.message}` : error.message,
    details: error.details,
  });
}

function shellQuote(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** `text` cut to `max` characters, the last of them `…` when it was longer. */
function shortened(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Rows as aligned columns; a cell of text from outside is shown with `terminalCell`. */
function table(given: string[][]): string {
  const rows = given.map((row) => row.map(terminalCell));
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

/** The catalog of a command: the config file's toolkits (else the built-in ones), plus `--toolkits`. */
async function catalogOf(values: OptionValues, io: CliIo): Promise<Toolkit[]> {
  const cwd = io.cwd ?? process.cwd();
  const { config } = await readConfig(values.config as string | undefined, cwd);
  return loadCatalog(values.toolkits as string | undefined, config.toolkits ?? builtinToolkits, cwd);
}

async function listToolkits(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string' },
    search: { type: 'string' },
    toolkits: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout(`${HELP['toolkits list']}\n`);
    return 0;
  }
  const toolmux = new ToolMux({ toolkits: await catalogOf(values, io) });
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
        shortened(oneLine(toolkit.description), 70),
      ]),
    ]),
  );
  return 0;
}

async function toolkitInfo(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    args,
    { config: { type: 'string' }, toolkits: { type: 'string' }, json: { type: 'boolean' } },
    1,
  );
  if (values.help) {
    io.stdout(`${HELP['toolkits info']}\n`);
    return 0;
  }
  const [slug] = positionals;
  if (!slug) throw new UsageError('toolkits info needs a toolkit slug, e.g. "toolmux toolkits info github".');
  const toolmux = new ToolMux({ toolkits: await catalogOf(values, io) });
  const toolkit = await toolmux.toolkits.get(slug).catch((error: unknown) => {
    // a slug the catalog lacks, or none can be, is a mistake in the command line, as a bad flag is
    if (
      !ToolMuxError.isInstance(error) ||
      (error.code !== 'TOOLKIT_NOT_FOUND' && error.code !== 'INVALID_REQUEST')
    )
      throw error;
    const sameCatalog =
      values.toolkits !== undefined || values.config !== undefined
        ? ' Give `toolmux toolkits list` the same --toolkits / --config to list this catalog.'
        : '';
    throw new UsageError(`toolkits info: ${error.messageFor('cli')}${sameCatalog}`);
  });
  if (values.json) {
    io.stdout(`${JSON.stringify(toolkit, null, 2)}\n`);
    return 0;
  }
  io.stdout(
    [
      terminalText(`${toolkit.name} (${toolkit.slug})`),
      oneLine(toolkit.description),
      '',
      `auth:       ${toolkit.noAuth ? 'none' : toolkit.authSchemes.join(', ')}`,
      `categories: ${toolkit.categories.join(', ') || '-'}`,
      `keywords:   ${oneLine(toolkit.keywords.join(', ')) || '-'}`,
      '',
      `${toolkit.toolCount} tools:`,
      table(toolkit.tools.map((tool) => [`  ${tool.slug}`, oneLine(tool.description)])).trimEnd(),
      '',
    ].join('\n'),
  );
  return 0;
}

/** A STORE_ERROR with the store as it may be shown in its details (`describeFailure` names it); other errors as they are. */
function withShownStore(error: unknown, shown: string): unknown {
  if (!ToolMuxError.isInstance(error) || error.code !== 'STORE_ERROR') return error;
  return new ToolMuxError({
    code: 'STORE_ERROR',
    message: error.message,
    cause: error.cause,
    details: { ...error.details, store: shown },
  });
}

/**
 * Whether a schema whose `toolmux_migrations` holds `applied` can be read without migrating it:
 * STORE_NOT_MIGRATED when it lacks migrations this release reads with (none at all: no toolmux ran
 * on the database); the STORE_SCHEMA_TOO_NEW error when a newer toolmux migrated it (readable: a
 * release's migrations keep the previous release working, so the caller reads it and says so);
 * undefined when it is this release's.
 */
function schemaToRead(
  applied: readonly AppliedMigration[],
  shown: string,
  from: string,
  command: 'sessions list' | 'keys rotate' = 'sessions list',
): (ToolMuxError & { details: { databaseVersion: number; supportedVersion: number } }) | undefined {
  let missing: AppliedMigration[];
  try {
    missing = pendingMigrations(applied);
  } catch (error) {
    if (ToolMuxError.isInstance(error) && error.code === 'STORE_SCHEMA_TOO_NEW')
      return error as ToolMuxError & { details: { databaseVersion: number; supportedVersion: number } };
    throw error;
  }
  if (missing.length === 0) return undefined;
  const details = {
    store: shown,
    databaseVersion: applied.reduce((newest, migration) => Math.max(newest, migration.version), 0),
    supportedVersion: LATEST_MIGRATION_VERSION,
    missingMigrations: missing.map((migration) => `${migration.version} ${migration.name}`),
  };
  if (applied.length === 0) {
    throw new ToolMuxError({
      code: 'STORE_NOT_MIGRATED',
      message: `The store ${shown} (${from}) has no toolmux tables: no toolmux server has run on this database yet, or it is not the server's database. Nothing was created: name the store the server uses with --store, TOOLMUX_STORE or the config file (--config); \`toolmux serve\` creates the tables when it starts on a new database.`,
      details,
    });
  }
  const newest = applied.reduce((a, b) => (b.version > a.version ? b : a));
  throw new ToolMuxError({
    code: 'STORE_NOT_MIGRATED',
    message: `The store ${shown} (${from}) is at migration ${newest.version} (${newest.name}), older than this toolmux, which reads migration ${LATEST_MIGRATION_VERSION}: its server runs an earlier release. ${
      command === 'sessions list'
        ? '`toolmux sessions list` only reads, so it did not migrate the database: list with the toolmux release of the server'
        : "`toolmux keys rotate` does not migrate a server's database (its instances of the earlier release would then refuse to start), so nothing was rotated: rotate with the toolmux release of the server"
    }, or upgrade the server (\`toolmux serve\` of this release migrates the database when it starts; back it up first).`,
    details,
  });
}

/**
 * The store a command opens (`--store`, else `TOOLMUX_STORE`, else the config file's, else the
 * default), where it came from, for its messages, and its spec: a spec that cannot be read is
 * STORE_CONFIG_INVALID naming where it was set, in every command. The spec's SQLite path is absolute:
 * a relative one is read from the config file's directory when the file set it (as its toolkit
 * module paths are), else from `cwd`; `store` stays as it was written, for messages.
 */
function storeAndSource(
  flag: string | undefined,
  io: CliIo,
  configured: string | undefined,
  file: string | undefined,
  cwd: string,
): [store: string, from: string, spec: StoreSpec] {
  const fromEnv = flag === undefined ? env(io, 'TOOLMUX_STORE') : undefined;
  const fromFile = flag === undefined && fromEnv === undefined && configured !== undefined;
  const [store, from] =
    flag !== undefined
      ? [flag, '--store']
      : fromEnv !== undefined
        ? [fromEnv, 'TOOLMUX_STORE']
        : configured !== undefined
          ? [configured, `store of ${file}`]
          : [DEFAULT_STORE, 'the default store'];
  const spec = parseStoreSpec(store, from);
  if (spec.dialect !== 'sqlite' || spec.path === ':memory:') return [store, from, spec];
  const base = fromFile && file !== undefined ? dirname(file) : cwd;
  return [store, from, { dialect: 'sqlite', path: resolve(base, spec.path) }];
}

/**
 * The store a reading command opens, as the server keeps it: an in-memory store is refused (it lives
 * in the server's process: `inMemory` says what that means for the command and `name` which store to
 * name instead), and so is an SQLite file that does not exist (nothing is created; `nothing` says
 * what is then missing).
 */
function existingStoreOf(
  [store, from, spec]: [store: string, from: string, spec: StoreSpec],
  why: { inMemory: string; name: string; nothing: string },
): string {
  if (spec.dialect !== 'sqlite') return store;
  if (spec.path === ':memory:') {
    throw new UsageError(
      `The store ${shownStoreSpec(store)} (${from}) is in memory: ${why.inMemory}. Name the store of ${why.name} with --store, TOOLMUX_STORE or the config file (--config).`,
    );
  }
  if (!existsSync(spec.path)) {
    throw new StartupError(
      `No database at ${spec.path} (${from}: ${store}), so ${why.nothing}; nothing was created. Name the store the server uses with --store, TOOLMUX_STORE or the config file (--config).`,
    );
  }
  return `sqlite:${spec.path}`;
}

/**
 * `toolmux sessions list`: reads the store of the config file (or `--store` / `TOOLMUX_STORE`) and
 * nothing else: a missing SQLite file is an error rather than a new database, the schema is not
 * migrated (one that lacks this release's migrations is STORE_NOT_MIGRATED; a newer one is read, with
 * a note), nothing is written, and no secret key is read or created (listing needs none).
 */
async function listSessions(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string' },
    user: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
    store: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout(`${HELP['sessions list']}\n`);
    return 0;
  }
  const cwd = io.cwd ?? process.cwd();
  const { config, file } = await readConfig(values.config as string | undefined, cwd);
  const [store, from, spec] = storeAndSource(values.store as string | undefined, io, config.store, file, cwd);
  const userId = values.user as string | undefined;
  if (userId !== undefined) {
    try {
      checkUserId(userId);
    } catch (error) {
      // core names its parameter; the operator typed the flag
      if (!ToolMuxError.isInstance(error) || !error.message.startsWith('userId ')) throw error;
      throw new UsageError(`--user${error.message.slice('userId'.length)}`);
    }
  }
  const limit = values.limit === undefined ? 20 : limitOf(values.limit as string);
  const cursor = values.cursor === undefined ? undefined : sessionCursorOf(values.cursor as string, limit);
  const shown = shownStoreSpec(store);
  const target = existingStoreOf([store, from, spec], {
    inMemory:
      "it lives inside the server's process and goes with it, so no other process can list its sessions",
    name: 'a server that keeps them',
    nothing: 'no sessions to list',
  });
  // read only: opening a store to list it must not migrate it (nor create its tables), which would
  // stop the server's older instances from starting (STORE_SCHEMA_TOO_NEW) and needs rights a
  // read-only role lacks
  const { store: opened, applied } = await openStoreToRead(target).catch((error: unknown) => {
    throw withShownStore(error, shown);
  });
  try {
    const newer = schemaToRead(applied, shown, from);
    if (newer) {
      io.stderr(
        `toolmux: note: ${shown} was migrated by a newer toolmux (its schema is at migration ${newer.details.databaseVersion}; this one knows up to ${newer.details.supportedVersion}): its sessions are read as this release reads them. Upgrade toolmux here to read them as the server does.\n`,
      );
    }
    const page = await opened.listSessions({ userId, limit, cursor }).catch((error: unknown) => {
      if (newer && ToolMuxError.isInstance(error) && error.code === 'STORE_ERROR') {
        throw new ToolMuxError({
          code: 'STORE_SCHEMA_TOO_NEW',
          message: `The store ${shown} was migrated by a newer toolmux (its schema is at migration ${newer.details.databaseVersion}; this toolmux knows migrations up to ${newer.details.supportedVersion} only), and reading its sessions as this release reads them failed: ${causeText(error.cause ?? error)}. Upgrade toolmux here to the release that migrated the database, or a later one.`,
          cause: error,
          details: { ...newer.details, store: shown },
        });
      }
      throw withShownStore(error, shown);
    });
    const items = page.items.map(sessionSummaryOf);
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
    // on stderr, so that the table or the JSON stays what it was: a page that was cut said nothing,
    // and past --limit 1000 the rest could not be listed at all
    if (page.nextCursor !== undefined) {
      io.stderr(
        `toolmux: there are more sessions: run the same command with --cursor ${page.nextCursor} for the next ${limit}.\n`,
      );
    }
    return 0;
  } finally {
    await opened.close();
  }
}

/**
 * `toolmux keys rotate`: re-encrypts every stored secret under the current secret key (what
 * `mux.vault.rotate()` does), on the store `serve` would use, and says how many records it rotated,
 * skipped (rewritten meanwhile by a running server) and could not decrypt. Exit 1 unless every record
 * is now under the current key: the old key must stay in TOOLMUX_PREVIOUS_SECRET_KEYS until then.
 * It never prints a key, only key ids.
 */
async function rotateKeys(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { config: { type: 'string' }, store: { type: 'string' } });
  if (values.help) {
    io.stdout(`${HELP['keys rotate']}\n`);
    return 0;
  }
  const cwd = io.cwd ?? process.cwd();
  const { config, file } = await readConfig(values.config as string | undefined, cwd);
  const [store, from, spec] = storeAndSource(values.store as string | undefined, io, config.store, file, cwd);
  const shown = shownStoreSpec(store);
  const target = existingStoreOf([store, from, spec], {
    inMemory: "it lives inside the server's process, and its secrets are under a key that goes with it",
    name: 'the server whose key you rotate',
    nothing: 'nothing to rotate',
  });
  const { secretKey, previousSecretKeys } = checkedSecretKey(io, config, file);
  if (!secretKey) {
    throw new UsageError(
      'Set the new key as TOOLMUX_SECRET_KEY (or secretKey in the config file) and the old one in TOOLMUX_PREVIOUS_SECRET_KEYS, as the server runs with them: the rotation re-encrypts under TOOLMUX_SECRET_KEY.',
    );
  }
  // the rotation writes, but it does not migrate: a newer toolmux run against a server's database
  // would upgrade it under the server's instances, which then refuse to start (STORE_SCHEMA_TOO_NEW)
  const { store: probe, applied } = await openStoreToRead(target).catch((error: unknown) => {
    throw withShownStore(error, shown);
  });
  try {
    const newer = schemaToRead(applied, shown, from, 'keys rotate');
    if (newer) throw newer;
  } finally {
    await probe.close();
  }
  const mux = new ToolMux({
    toolkits: config.toolkits ?? builtinToolkits,
    store: target,
    secretKey,
    previousSecretKeys,
    logger: {
      debug: () => undefined,
      warn: (message) => io.stderr(`${message}\n`),
      error: (message) => io.stderr(`${message}\n`),
    },
  });
  try {
    await openToolMuxStore(mux).catch((error: unknown) => {
      throw withShownStore(error, shown);
    });
    const failures: RotationFailure[] = [];
    const result = await rotateSecretsReporting(mux, { onFailure: (failure) => failures.push(failure) });
    for (const { kind, id, error } of failures) {
      io.stderr(
        `toolmux: could not rotate the ${kind.replace('_', ' ')} ${id}: ${oneLine(error.message)} (${error.code})\n`,
      );
    }
    io.stdout(
      `${shown}: ${result.reencrypted} rotated, ${result.skipped} skipped, ${failures.length} failed.\n`,
    );
    if (result.skipped > 0 || failures.length > 0) {
      const why = [
        result.skipped > 0
          ? `${result.skipped} changed while they were rotated (a running server rewrote them) and are still under an older key`
          : '',
        failures.length > 0
          ? `${failures.length} did not decrypt with any configured key (add the key they were written with to TOOLMUX_PREVIOUS_SECRET_KEYS; one altered in the database must be connected again)`
          : '',
      ]
        .filter(Boolean)
        .join('; ');
      io.stderr(
        `toolmux: not every record is under the current key yet: ${why}. Run "toolmux keys rotate" again, with the same keys, until it reports 0 skipped and 0 failed, before you drop the old key from TOOLMUX_PREVIOUS_SECRET_KEYS.\n`,
      );
      return 1;
    }
    io.stdout(
      previousSecretKeys.length > 0
        ? 'Every record is under the current key: you can now drop the old key from TOOLMUX_PREVIOUS_SECRET_KEYS on every instance.\n'
        : 'Every record is under the current key.\n',
    );
    return 0;
  } finally {
    await mux.close();
  }
}
