import { describe, expect, it } from 'vitest';
import type { ToolResult } from './execution/result.js';
import { parseToolArguments, runToolCalls } from './tool-calls.js';

describe('parseToolArguments', () => {
  it('parses JSON, reads empty text as {} and hands back text that is not JSON', () => {
    expect(parseToolArguments('{"a":1}')).toEqual({ a: 1 });
    expect(parseToolArguments('')).toEqual({});
    expect(parseToolArguments(undefined)).toEqual({});
    expect(parseToolArguments('{"a":')).toBe('{"a":');
  });

  it('hands back arguments that are not text as they are (an object an OpenAI-compatible server sent)', () => {
    const args = { a: 1 };
    expect(parseToolArguments(args)).toBe(args);
    expect(parseToolArguments(5)).toBe(5);
    expect(parseToolArguments(null)).toEqual({});
  });
});

describe('runToolCalls', () => {
  it('starts every call before any finishes and keeps their order, with each call id', async () => {
    const started: string[] = [];
    const release: Array<() => void> = [];
    const pending = runToolCalls(
      [
        { id: 'c1', name: 'A', arguments: { n: 1 } },
        { id: undefined, name: 'B', arguments: {} },
      ],
      (slug, args, options) => {
        started.push(`${slug}:${options?.callId ?? '-'}`);
        return new Promise<ToolResult>((resolve) =>
          release.push(() => resolve({ successful: true, data: args, error: null, logId: slug })),
        );
      },
    );
    expect(started).toEqual(['A:c1', 'B:-']);
    for (const done of release.reverse()) done();
    expect((await pending).map((result) => result.logId)).toEqual(['A', 'B']);
  });
});
