import { describe, expect, it } from 'vitest';
import { createCliLogger, prettyLine, serverLoggerOf } from './log.js';

describe('the CLI log', () => {
  it('writes JSON lines with pino fields, and censors credential fields', () => {
    const lines: string[] = [];
    const log = createCliLogger({ level: 'info', format: 'json', write: (text) => lines.push(text) });
    const logger = serverLoggerOf(log);
    logger.info!('GET /healthz 200 1ms', { req_id: 'r1', route: '/healthz', status: 200 });
    logger.debug('not at info level');
    logger.error('oops', { authorization: 'Bearer secret-value', apiKey: 'k-secret' });
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]!);
    expect(first).toMatchObject({ level: 30, msg: 'GET /healthz 200 1ms', req_id: 'r1', route: '/healthz' });
    expect(first.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(lines[1]).not.toContain('secret');
  });

  it('writes pretty lines: time, level, message, other fields, then the stack of an error', () => {
    const line = prettyLine(
      JSON.stringify({
        level: 50,
        time: '2026-01-02T03:04:05.678Z',
        pid: 1,
        msg: 'POST /api/v1/sessions 500 3ms (request r2): boom',
        req_id: 'r2',
        route: '/api/v1/sessions',
        status: 500,
        error: { message: 'boom', stack: 'Error: boom\n    at x' },
      }),
    );
    expect(line).toBe(
      '03:04:05.678 ERROR POST /api/v1/sessions 500 3ms (request r2): boom  req_id=r2\n  Error: boom\n      at x\n',
    );
  });

  it('shows text from outside in a pretty line as what it holds: escape sequences, line breaks and bidi characters escaped', () => {
    // a client's value quoted in a message or a field reached the terminal as it was: ESC [2J cleared
    // the screen, a line break forged a log line of its own, U+202E showed "ann\u202eexe.txt" reversed
    const lines: string[] = [];
    const log = createCliLogger({ level: 'info', format: 'pretty', write: (text) => lines.push(text) });
    serverLoggerOf(log).warn!('No tool "X\u001b[2J" for user "ann\u202eexe.txt"\n00:00:00.000 INFO  forged', {
      user_id: 'ann\u202eexe.txt\u009b31m',
      error: { message: 'boom', stack: 'Error: \u001b]0;title\u0007boom\n    at x' },
    });
    expect(lines).toHaveLength(1);
    const [line] = lines as [string];
    // no control or format character but the line breaks of the stack
    expect(line.replaceAll('\n', '')).not.toMatch(/[\p{Cc}\p{Cf}]/u);
    expect(line).toContain(
      'WARN  No tool "X\\u001b[2J" for user "ann\\u202eexe.txt"\\u000a00:00:00.000 INFO  forged  user_id=ann\\u202eexe.txt\\u009b31m',
    );
    // the stack keeps its own lines, each escaped
    expect(line.split('\n')).toEqual([
      expect.any(String),
      '  Error: \\u001b]0;title\\u0007boom',
      '      at x',
      '',
    ]);
  });
});
