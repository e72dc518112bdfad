import { describe, expect, it } from 'vitest';
import { acceptsEventStream, acceptsJson } from './accept.js';

describe('acceptsJson (the Accept header of an MCP POST)', () => {
  it('takes application/json named whole, in any case, or under a wildcard', () => {
    for (const accept of [
      'application/json, text/event-stream',
      'text/event-stream, application/json',
      'APPLICATION/JSON',
      ' application/json ; q=0.5 ',
      'application/json;charset=utf-8',
      'application/*',
      '*/*',
      'text/html, */*;q=0.1',
      'text/event-stream;q=1, application/*;q=0.001',
    ]) {
      expect(acceptsJson(accept), accept).toBe(true);
    }
  });

  it('refuses another type, however it starts, and a weight of 0', () => {
    for (const accept of [
      'text/event-stream',
      'application/jsonlines',
      'application/json-seq',
      'application/json+ld',
      'application/javascript',
      'text/*',
      'application/json;q=0',
      'application/json; Q=0.000',
      '*/*;q=0',
      'application/*;q=0',
      // the most specific range decides: application/json is refused though the wildcards take it
      'application/json;q=0, */*',
      'application/json;q=0, application/*;q=1',
      'application/*;q=0, */*',
      // a quoted parameter value is no media range of its own
      'text/html;profile="a, application/json"',
      'text/html;profile="a\\", application/json"',
    ]) {
      expect(acceptsJson(accept), accept).toBe(false);
    }
  });

  it('takes the most specific range whichever comes first, and weights out of range as the nearest', () => {
    expect(acceptsJson('*/*;q=0, application/json')).toBe(true);
    expect(acceptsJson('application/*;q=0, application/json;q=0.2')).toBe(true);
    expect(acceptsJson('application/json;q=2')).toBe(true);
    expect(acceptsJson('application/json;q=-1')).toBe(false);
    // a weight that is no number is left as 1
    expect(acceptsJson('application/json;q=high')).toBe(true);
    // only the first q counts: what follows is an accept extension
    expect(acceptsJson('application/json;q=0;q=1')).toBe(false);
  });

  it('a header that lists no media range states no preference', () => {
    for (const accept of ['', ' ', ',', ' , ,']) expect(acceptsJson(accept), accept).toBe(true);
  });

  it('reads a header of many ranges in one pass', () => {
    const many = `${'text/html;q=0.5, '.repeat(1_000)}application/json;q=0`;
    expect(acceptsJson(many)).toBe(false);
    expect(acceptsJson(`${many}, application/json;q=0.5`)).toBe(true);
  });
});

describe('acceptsEventStream (whether a tools/call that asks for progress may be answered with a stream)', () => {
  it('takes text/event-stream named whole, in any case, or under a wildcard', () => {
    for (const accept of [
      'application/json, text/event-stream',
      'TEXT/EVENT-STREAM;q=0.5, application/json',
      'text/*',
      '*/*',
      'application/json, */*;q=0.1',
    ]) {
      expect(acceptsEventStream(accept), accept).toBe(true);
    }
  });

  it('refuses a header without it, one of weight 0, and one that lists no media range', () => {
    for (const accept of [
      'application/json',
      'text/event-streams',
      'text/html',
      'application/json, text/event-stream;q=0',
      'text/event-stream;q=0, */*',
      'text/*;q=0, */*',
      'application/json;profile="a, text/event-stream"',
      '',
      ' , ',
    ]) {
      expect(acceptsEventStream(accept), accept).toBe(false);
    }
  });
});
