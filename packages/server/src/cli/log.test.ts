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
});
