import { describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { ToolMux } from '../index.js';

const API_KEY = 'tmx_test_key_0123456789abcdef';

/** The CONFIG_INVALID error `new ToolMux(options)` throws (failing the test if it does not). */
function refusal(options: Record<string, unknown>): ToolMuxError {
  try {
    new ToolMux(options as never);
  } catch (error) {
    expect(ToolMuxError.isInstance(error), String(error)).toBe(true);
    return error as ToolMuxError;
  }
  throw new Error(`new ToolMux(${JSON.stringify(options)}) was accepted`);
}

const embedded = { store: ':memory:', toolkits: [] };
const remote = { apiKey: API_KEY };

// each URL option, with what is not a URL, not http(s), or holds a password: CONFIG_INVALID naming
// the option at construction (a TypeError of new URL() at the first request, or a javascript: link
// handed to users' browsers, before)
const BAD: Array<[string, unknown, string]> = [
  ['not a URL', 'http://exa mple.com', 'is not a URL'],
  ['no host', 'http://', 'is not a URL'],
  ['relative', '/connect/done', 'is not a URL'],
  ['javascript:', 'javascript:alert(document.cookie)', 'is a "javascript:" URL'],
  ['data:', 'data:text/html,<script>alert(1)</script>', 'is a "data:" URL'],
  ['file:', 'file:///etc/passwd', 'is a "file:" URL'],
  ['not a string', 42, 'is number 42, not a string'],
];

describe('URL options of a ToolMux are checked where they are given', () => {
  for (const [mode, base, options] of [
    ['embedded', embedded, ['baseUrl', 'defaultCallbackUrl', 'oauthRedirectUri', 'allowedCallbackUrls']],
    ['remote', remote, ['baseUrl']],
  ] as const) {
    for (const option of options) {
      it.each(BAD)(
        `${mode}: ${option} %s is CONFIG_INVALID naming it and what it must be`,
        (_what, value, why) => {
          const given = option === 'allowedCallbackUrls' ? [value] : value;
          const shownOption = option === 'allowedCallbackUrls' ? 'allowedCallbackUrls[0]' : option;
          const error = refusal({
            ...base,
            ...(mode === 'remote' ? { baseUrl: 'http://127.0.0.1:8787' } : {}),
            [option]: given,
          });
          expect(error.code).toBe('CONFIG_INVALID');
          expect(error.message).toContain(`${shownOption} `);
          expect(error.message).toContain(why);
          expect(error.message).toContain('it must be an absolute http(s) URL');
        },
      );
    }
  }

  it.each([
    ['embedded', embedded],
    ['remote', remote],
  ] as const)(
    '%s: a baseUrl with a query or a fragment is CONFIG_INVALID (paths added to it would be neither)',
    (_mode, base) => {
      // on the code before, each was taken: session MCP URLs read http://127.0.0.1:8787?x=1/mcp/ses_…
      for (const [value, part] of [
        ['http://127.0.0.1:8787?x=1', 'a query ("?x=1")'],
        ['http://127.0.0.1:8787/toolmux/?', 'a query ("?")'],
        ['http://127.0.0.1:8787#top', 'a fragment ("#top")'],
        ['http://127.0.0.1:8787/toolmux#', 'a fragment ("#")'],
      ] as const) {
        const error = refusal({ ...base, baseUrl: value });
        expect(error.code).toBe('CONFIG_INVALID');
        expect(error.message).toContain(`baseUrl "${value}" has ${part}: paths are added to it`);
      }
      // a path, with or without a slash at its end, stays a base URL
      expect(new ToolMux({ ...base, baseUrl: 'http://127.0.0.1:8787/toolmux/' } as never).baseUrl).toBe(
        'http://127.0.0.1:8787/toolmux',
      );
    },
  );

  it('an oauthRedirectUri with a fragment is CONFIG_INVALID (RFC 6749, 3.1.2); a query is allowed', () => {
    const error = refusal({ ...embedded, oauthRedirectUri: 'https://tools.example.com/auth/callback#x' });
    expect(error.message).toContain('has a fragment ("#x"), which a redirect URI may not have');
    const mux = new ToolMux({
      ...embedded,
      oauthRedirectUri: 'https://tools.example.com/auth/callback?tenant=a',
    } as never);
    expect(mux.oauthRedirectUri).toBe('https://tools.example.com/auth/callback?tenant=a');
  });

  it('a URL holding a password is refused without showing it', () => {
    for (const option of ['defaultCallbackUrl', 'oauthRedirectUri']) {
      const error = refusal({ ...embedded, [option]: 'https://user:hunter2-secret@app.example.com/done' });
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain('holds a user name or password');
      expect(error.message).not.toContain('hunter2');
    }
  });

  it("defaultCallbackUrl may be an app's own scheme (RFC 8252), which the other options may not", () => {
    const mux = new ToolMux({ ...embedded, defaultCallbackUrl: 'com.example.app:/oauth/done' } as never);
    expect(mux).toBeDefined();
    const error = refusal({ ...embedded, oauthRedirectUri: 'com.example.app:/oauth/done' });
    expect(error.message).toContain(
      'oauthRedirectUri "com.example.app:/oauth/done" is a "com.example.app:" URL',
    );
    // a scheme without a period is no reverse domain name
    expect(refusal({ ...embedded, defaultCallbackUrl: 'myapp://done' }).message).toContain(
      'defaultCallbackUrl "myapp://done" is a "myapp:" URL',
    );
  });

  it('http(s) URLs are taken as given (a path, a port, a trailing slash)', () => {
    for (const baseUrl of [
      'http://localhost:8787/',
      'https://tools.example.com/toolmux',
      'http://[::1]:9000',
    ]) {
      expect(() => new ToolMux({ ...embedded, baseUrl } as never)).not.toThrow();
      expect(() => new ToolMux({ ...remote, baseUrl } as never)).not.toThrow();
    }
    expect(
      () =>
        new ToolMux({
          ...embedded,
          defaultCallbackUrl: 'https://app.example.com/connected?from=toolmux',
          oauthRedirectUri: 'https://tools.example.com/auth/callback',
          allowedCallbackUrls: ['https://app.example.com', 'http://localhost:3000/oauth/'],
        } as never),
    ).not.toThrow();
  });
});
