import { pino } from 'pino';
import type { LogFormat, LogLevel } from '../config.js';
import type { ServerLogger } from '../request-log.js';
import { terminalText } from './terminal-text.js';

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Fields a pretty line leaves out: the message already says them. */
const SHOWN_IN_MESSAGE = new Set([
  'level',
  'time',
  'msg',
  'pid',
  'hostname',
  'method',
  'route',
  'status',
  'duration_ms',
]);

/** One JSON line from pino as a human-readable line (`12:00:01.123 INFO  GET /healthz 200 0.4ms`). */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const level = (LEVEL_NAMES[entry.level as number] ?? String(entry.level)).padEnd(5);
  const extras = Object.entries(entry)
    .filter(([key]) => !SHOWN_IN_MESSAGE.has(key) && key !== 'error')
    .map(
      ([key, value]) => `${key}=${terminalText(typeof value === 'string' ? value : JSON.stringify(value))}`,
    );
  const stack = (entry.error as { stack?: string } | undefined)?.stack;
  // text from outside (a message quoting a client's value, an error's stack) shows on the terminal as
  // what it holds: an escape sequence or a line break in it does not act or forge a line
  const shownStack = typeof stack === 'string' ? stack.split('\n').map(terminalText).join('\n  ') : '';
  return `${time} ${level} ${terminalText(String(entry.msg ?? ''))}${extras.length ? `  ${extras.join(' ')}` : ''}${shownStack ? `\n  ${shownStack}` : ''}\n`;
}

/**
 * The CLI's pino logger, writing JSON lines or pretty lines to `write`. Fields that could hold a
 * credential are censored as a second line of defence (the server never passes them).
 */
export function createCliLogger(options: {
  level: LogLevel;
  format: LogFormat;
  write: (text: string) => void;
}): pino.Logger {
  const { write, format } = options;
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['authorization', 'apiKey', 'secretKey', 'token', 'password', '*.authorization', '*.apiKey'],
        censor: '[redacted]',
      },
    },
    { write: (line: string) => write(format === 'pretty' ? prettyLine(line) : line) },
  );
}

/** The pino logger as the server's and core's logger (`message, data` → `data, message`). */
export function serverLoggerOf(log: pino.Logger): ServerLogger {
  return {
    debug: (message, data) => log.debug(data ?? {}, message),
    info: (message, data) => log.info(data ?? {}, message),
    warn: (message, data) => log.warn(data ?? {}, message),
    error: (message, data) => log.error(data ?? {}, message),
  };
}
