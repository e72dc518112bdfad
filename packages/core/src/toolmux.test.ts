import { describe, expect, it } from 'vitest';
import { ToolMuxError } from './errors.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

const BASE_URL = 'https://tools.example.com';

function thrown(make: () => unknown): ToolMuxError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ToolMuxError);
    return error as ToolMuxError;
  }
  throw new Error('expected new ToolMux() to throw');
}

describe('how new ToolMux() picks its mode: never a silent fallback to embedded', () => {
  it.each([
    ['undefined', undefined, 'apiKey is undefined'],
    ['an empty string', '', 'apiKey is empty'],
    ['blank', '   ', 'apiKey is empty'],
  ])(
    'an apiKey that is %s (an unset environment variable) is an error naming TOOLMUX_API_KEY',
    (_, apiKey, start) => {
      const error = thrown(() => new ToolMux({ baseUrl: BASE_URL, apiKey }));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message.startsWith(`${start}: remote mode needs the project API key`)).toBe(true);
      expect(error.message).toContain(`toolmux server at ${BASE_URL}`);
      expect(error.message).toContain('Set TOOLMUX_API_KEY');
      // where the server's key is: it may be beside a database elsewhere (it said ./.toolmux/api.key only)
      expect(error.message).toContain('prints where its key is when it starts');
      expect(error.message).toContain('./.toolmux/api.key by default');
    },
  );

  it('an undefined apiKey is refused even with nothing else given, and before embedded-only options', () => {
    expect(thrown(() => new ToolMux({ apiKey: undefined })).message).toMatch(
      /^apiKey is undefined: .*TOOLMUX_API_KEY/,
    );
    const { toolkits } = createSampleToolkits();
    expect(thrown(() => new ToolMux({ apiKey: undefined, toolkits })).message).toMatch(
      /^apiKey is undefined/,
    );
  });

  it('baseUrl alone (no apiKey, no toolkits, no store) is an application that forgot its API key', () => {
    const error = thrown(() => new ToolMux({ baseUrl: BASE_URL }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`baseUrl "${BASE_URL}" without apiKey`);
    expect(error.message).toContain('TOOLMUX_API_KEY');
    expect(error.message).toContain('toolkits: []');
    // a password in it is not repeated
    const withPassword = thrown(() => new ToolMux({ baseUrl: 'https://ops:hunter2@tools.example.com/x' }));
    expect(withPassword.code).toBe('CONFIG_INVALID');
    expect(withPassword.message).toContain(
      '"https://tools.example.com/x" (its user name and password left out here)',
    );
    expect(withPassword.message).not.toContain('hunter2');
    expect(withPassword.message).not.toContain('ops');
  });

  it('baseUrl with toolkits or a store stays embedded: the server builds its URLs from it', async () => {
    const { toolkits } = createSampleToolkits();
    const withToolkits = new ToolMux({ baseUrl: BASE_URL, toolkits, store: ':memory:' });
    expect(withToolkits.mode).toBe('embedded');
    expect(withToolkits.oauthRedirectUri).toBe(`${BASE_URL}/auth/callback`);
    await withToolkits.close();
    const customOnly = new ToolMux({ baseUrl: BASE_URL, toolkits: [] });
    expect(customOnly.mode).toBe('embedded');
    const storeOnly = new ToolMux({ baseUrl: BASE_URL, store: ':memory:' });
    expect(storeOnly.mode).toBe('embedded');
    await storeOnly.close();
  });

  it('nothing at all is embedded on the default store, and a real apiKey is remote', () => {
    expect(new ToolMux({ store: ':memory:' }).mode).toBe('embedded');
    expect(new ToolMux({ baseUrl: BASE_URL, apiKey: 'tmx_ak_0123456789abcdef' }).mode).toBe('remote');
  });
});

describe('a wrong option of new ToolMux() is CONFIG_INVALID naming it, in either mode', () => {
  it.each([
    [
      'an allowedCallbackUrls entry that is no URL',
      { toolkits: [], store: ':memory:', allowedCallbackUrls: ['app.example.com'] },
      /^allowedCallbackUrls\[0\] "app\.example\.com" is not a URL; it must be an absolute http\(s\) URL/,
    ],
    [
      'an embedded baseUrl that is no http(s) URL',
      { toolkits: [], store: ':memory:', baseUrl: 'ftp://tools.example.com' },
      /^baseUrl "ftp:\/\/tools\.example\.com" is a "ftp:" URL; it must be an absolute http\(s\) URL/,
    ],
    [
      'a remote option given to an embedded ToolMux',
      { toolkits: [], store: ':memory:', requestTimeoutMs: 1000 },
      /^requestTimeoutMs bounds the requests of a remote ToolMux/,
    ],
    [
      'an embedded option given to a remote ToolMux',
      { baseUrl: BASE_URL, apiKey: 'k'.repeat(32), store: ':memory:' },
      /^store configure an embedded ToolMux/,
    ],
    [
      'a remote apiKey that is too short',
      { baseUrl: BASE_URL, apiKey: 'short' },
      /^apiKey must be the server's project API key/,
    ],
    [
      'an oauthRequestTimeoutMs that is no whole number',
      { toolkits: [], store: ':memory:', oauthRequestTimeoutMs: 1.5 },
      /^oauthRequestTimeoutMs must be a whole number/,
    ],
    [
      'a managedAuth secret no token request can carry',
      {
        toolkits: [],
        store: ':memory:',
        managedAuth: { github: { clientId: 'c', clientSecret: 'hidden-secret\ud800' } },
      },
      /^managedAuth\["github"\]: clientSecret \(not shown\) /,
    ],
    [
      'a managedAuth scope with white space',
      { toolkits: [], store: ':memory:', managedAuth: { github: { clientId: 'c', scopes: ['repo user'] } } },
      /^managedAuth\["github"\]: scope "repo user" holds white space/,
    ],
    [
      'a managedAuth entry without a clientId',
      { toolkits: [], store: ':memory:', managedAuth: { github: { clientSecret: 'hidden-secret' } } },
      /^managedAuth\["github"\]: An oauth2 auth config for github needs the clientId/,
    ],
    [
      // it gave the client no secret: its connections failed at the provider
      'a managedAuth entry with a key an OAuth client does not take',
      {
        toolkits: [],
        store: ':memory:',
        managedAuth: { github: { clientId: 'c', secret: 'hidden-secret' } },
      },
      /^managedAuth\["github"\] has no option "secret"\. Did you mean "clientSecret"\? Its options: clientId, clientSecret, scopes\.$/,
    ],
    [
      'a managedAuth that is no object of clients',
      { toolkits: [], store: ':memory:', managedAuth: [] },
      /^managedAuth must be an object of OAuth clients by toolkit slug .*; got an array\.$/,
    ],
  ] as const)('%s', (_, options, message) => {
    const error = thrown(() => new ToolMux(options as never));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('hidden-secret');
  });
});
