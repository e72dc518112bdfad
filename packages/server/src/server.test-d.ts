import { type PlainProvider, type Provider, ToolMux, type ToolSpec } from '@toolmux/core';
import { describe, expectTypeOf, it } from 'vitest';
import { createServer, type RunningServer, type ToolMuxServer } from './index.js';

class MapProvider implements Provider<Map<string, ToolSpec>> {
  readonly name = 'map';
  wrapTools(tools: readonly ToolSpec[]): Map<string, ToolSpec> {
    return new Map(tools.map((tool) => [tool.slug, tool]));
  }
}

describe('createServer types', () => {
  it('serves a ToolMux of any provider', () => {
    expectTypeOf(createServer).toBeCallableWith({ toolmux: new ToolMux({ provider: new MapProvider() }) });
    expectTypeOf(createServer).toBeCallableWith({ toolmux: new ToolMux<PlainProvider>(), apiKey: 'k' });
  });

  it('is a web-standard fetch handler and a Node server', () => {
    expectTypeOf<ToolMuxServer['fetch']>().toEqualTypeOf<(request: Request) => Promise<Response>>();
    expectTypeOf<ReturnType<ToolMuxServer['serve']>>().toEqualTypeOf<Promise<RunningServer>>();
    expectTypeOf<RunningServer['url']>().toBeString();
  });
});
