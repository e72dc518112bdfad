import { describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { CallbackUrlPolicy } from './callback-urls.js';

function allowed(policy: CallbackUrlPolicy, url: string): boolean {
  try {
    policy.check(url);
    return true;
  } catch (error) {
    expect(ToolMuxError.isInstance(error) && error.code).toBe('CALLBACK_URL_NOT_ALLOWED');
    return false;
  }
}

describe('CallbackUrlPolicy', () => {
  it('by default allows the origin of baseUrl and loopback hosts on any port', () => {
    const policy = new CallbackUrlPolicy({
      allowed: undefined,
      baseUrl: 'https://tools.example.com',
      production: false,
    });
    expect(allowed(policy, 'https://tools.example.com/connect/done?x=1')).toBe(true);
    expect(allowed(policy, 'http://localhost:5173/cb')).toBe(true);
    expect(allowed(policy, 'http://127.0.0.1:3000/')).toBe(true);
    expect(allowed(policy, 'http://[::1]:3000/')).toBe(true);
    expect(allowed(policy, 'http://tools.example.com/cb')).toBe(false); // another scheme is another origin
    expect(allowed(policy, 'https://tools.example.com.evil.com/cb')).toBe(false);
    expect(allowed(policy, 'https://user:pw@tools.example.com/cb')).toBe(false);
    expect(allowed(policy, 'javascript:alert(1)')).toBe(false);
    expect(allowed(policy, 'not a url')).toBe(false);
  });

  it('drops the loopback default in production', () => {
    const policy = new CallbackUrlPolicy({
      allowed: undefined,
      baseUrl: 'https://tools.example.com',
      production: true,
    });
    expect(allowed(policy, 'http://localhost:5173/cb')).toBe(false);
    expect(allowed(policy, 'https://tools.example.com/done')).toBe(true);
  });

  it('takes origins and path prefixes from allowedCallbackUrls, and names them when it refuses', () => {
    const policy = new CallbackUrlPolicy({
      allowed: ['https://app.example.com', 'https://other.example.com/oauth/'],
      baseUrl: 'https://tools.example.com',
      production: false,
    });
    expect(allowed(policy, 'https://app.example.com/anything')).toBe(true);
    expect(allowed(policy, 'https://other.example.com/oauth/done')).toBe(true);
    expect(allowed(policy, 'https://other.example.com/oauthx')).toBe(false);
    expect(allowed(policy, 'https://other.example.com/')).toBe(false);
    expect(allowed(policy, 'http://localhost:3000/')).toBe(false);
    expect(allowed(policy, 'https://tools.example.com/done')).toBe(false);
    const withDefault = new CallbackUrlPolicy({
      allowed: ['https://app.example.com'],
      baseUrl: 'https://tools.example.com',
      production: true,
      defaultCallbackUrl: 'https://tools.example.com/connect/done',
    });
    expect(allowed(withDefault, 'https://tools.example.com/connect/done')).toBe(true);
    expect(allowed(withDefault, 'https://tools.example.com/connect/other')).toBe(false);
    expect(() => policy.check('https://evil.example.com/')).toThrow(
      /https:\/\/app\.example\.com, https:\/\/other\.example\.com\/oauth\//,
    );
    expect(
      () => new CallbackUrlPolicy({ allowed: ['nope'], baseUrl: 'https://x.test', production: false }),
    ).toThrow(/allowedCallbackUrls/);
  });

  it('tells a callback URL that is no absolute http(s) URL what it must be, not to allow its origin', () => {
    const policy = new CallbackUrlPolicy({
      allowed: undefined,
      baseUrl: 'https://x.test',
      production: false,
    });
    for (const url of ['not a url', '/relative', '', 'javascript:alert(1)', 'com.example.app:/done']) {
      const error = (() => {
        try {
          policy.check(url);
        } catch (thrown) {
          return thrown as ToolMuxError;
        }
      })();
      expect(error?.code, url).toBe('CALLBACK_URL_NOT_ALLOWED');
      expect(error?.message, url).toContain(
        `callbackUrl ${JSON.stringify(url)} is not an absolute http(s) URL`,
      );
      expect(error?.message, url).not.toMatch(/allowedCallbackUrls|origin/);
      // the REST API's field
      expect(error?.messageFor('rest'), url).toContain(
        `callback_url ${JSON.stringify(url)} is not an absolute`,
      );
    }
    expect(() => policy.check('https://user:pw@x.test/cb')).toThrow(/holds a user name or password/);
  });
});
