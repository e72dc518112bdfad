import { ToolMux } from '@toolmux/core';
import { describe, expect, it } from 'vitest';
import { builtinToolkits, describeToolkits } from './index.js';

const HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;

describe('builtinToolkits', () => {
  it('holds the nine toolkits with unique tool slugs', () => {
    expect(builtinToolkits.map((toolkit) => toolkit.slug)).toEqual([
      'github',
      'gmail',
      'slack',
      'exa',
      'firecrawl',
      'notion',
      'linear',
      'hackernews',
      'http',
    ]);
    const slugs = builtinToolkits.flatMap((toolkit) => toolkit.tools.map((tool) => tool.slug));
    expect(new Set(slugs).size).toBe(slugs.length);
  });

  it.each(builtinToolkits.flatMap((toolkit) => toolkit.tools.map((tool) => [tool.slug, tool] as const)))(
    '%s is fully described: description, described input fields, output schema, all four hints',
    (_slug, tool) => {
      expect(tool.description.length).toBeGreaterThan(30);
      const properties = (tool.inputSchema.properties ?? {}) as Record<string, { description?: string }>;
      for (const [name, property] of Object.entries(properties)) {
        expect(property.description, `${tool.slug}.${name} has no description`).toBeTruthy();
      }
      expect(tool.outputSchema).toBeDefined();
      for (const hint of HINTS) expect(typeof tool.annotations[hint], `${tool.slug} ${hint}`).toBe('boolean');
      if (tool.annotations.readOnlyHint) expect(tool.annotations.destructiveHint).toBe(false);
    },
  );

  it('declares each toolkit’s real auth scheme', () => {
    const bySlug = Object.fromEntries(builtinToolkits.map((toolkit) => [toolkit.slug, toolkit]));
    const oauth = (slug: string) => bySlug[slug]!.auth.find((scheme) => scheme.type === 'oauth2') as any;
    expect(oauth('github')).toMatchObject({
      authorizationUrl: 'https://github.com/login/oauth/authorize',
      tokenUrl: 'https://github.com/login/oauth/access_token',
      scopes: expect.arrayContaining(['repo']),
    });
    expect(oauth('gmail')).toMatchObject({
      authorizationUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
      tokenUrl: 'https://oauth2.googleapis.com/token',
      scopes: ['https://www.googleapis.com/auth/gmail.modify'],
    });
    expect(oauth('slack')).toMatchObject({
      authorizationUrl: 'https://slack.com/oauth/v2/authorize',
      tokenUrl: 'https://slack.com/api/oauth.v2.access',
      scopes: expect.arrayContaining(['chat:write', 'channels:read']),
    });
    expect(oauth('notion')).toMatchObject({
      authorizationUrl: 'https://api.notion.com/v1/oauth/authorize',
      tokenUrl: 'https://api.notion.com/v1/oauth/token',
    });
    expect(oauth('linear')).toMatchObject({
      authorizationUrl: 'https://linear.app/oauth/authorize',
      tokenUrl: 'https://api.linear.app/oauth/token',
      scopes: ['read', 'write'],
    });
    for (const slug of ['exa', 'firecrawl']) {
      expect(bySlug[slug]!.auth).toEqual([
        expect.objectContaining({ type: 'api_key', fields: [expect.objectContaining({ name: 'apiKey' })] }),
      ]);
    }
    expect(bySlug.hackernews!.noAuth).toBe(true);
    expect(bySlug.http!.noAuth).toBe(true);
  });

  it('loads into a ToolMux catalog and describes itself for listings', async () => {
    const mux = new ToolMux({ toolkits: builtinToolkits, store: ':memory:' });
    const listed = await mux.toolkits.list();
    expect(listed.total).toBe(9);
    expect((await mux.toolkits.get('github')).toolCount).toBe(builtinToolkits[0]!.tools.length);
    await mux.close();
    const described = describeToolkits();
    expect(described.find((toolkit) => toolkit.slug === 'github')).toMatchObject({
      name: 'GitHub',
      auth: ['oauth2', 'api_key'],
      noAuth: false,
    });
  });
});
