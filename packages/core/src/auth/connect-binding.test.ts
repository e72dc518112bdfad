import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Vault } from '../vault/vault.js';
import { connectBindingCookie, connectPageCookie, connectPageUrlOf } from './connect-binding.js';

const vault = new Vault(randomBytes(32));
const expiresAt = new Date(Date.now() + 60_000);

describe('connect page paths', () => {
  it.each([
    ['https://tools.example.com', 'https://tools.example.com/connect/cr_1', '/connect/'],
    ['https://example.com/toolmux', 'https://example.com/toolmux/connect/cr_1', '/toolmux/connect/'],
    ['https://example.com/toolmux/', 'https://example.com/toolmux/connect/cr_1', '/toolmux/connect/'],
  ])('baseUrl %s: the page is %s and its cookie is scoped to %s', (baseUrl, page, directory) => {
    expect(connectPageUrlOf(baseUrl, 'cr_1')).toBe(page);
    const cookie = connectPageCookie(vault, baseUrl, 'cr_1', expiresAt);
    expect(cookie).toContain(`; Path=${directory};`);
    // the page's own path is inside the cookie's directory, so the browser sends it back to "Continue"
    expect(new URL(page).pathname.startsWith(directory)).toBe(true);
  });

  it('escapes a request id in the page URL', () => {
    expect(connectPageUrlOf('http://localhost:8787', 'cr_a/b?c')).toBe(
      'http://localhost:8787/connect/cr_a%2Fb%3Fc',
    );
  });

  it('scopes the binding cookie to the directory both the page and the callback are in', () => {
    const cookie = connectBindingCookie(
      vault,
      'https://example.com/toolmux',
      'https://example.com/toolmux/auth/callback',
      'cr_1',
      expiresAt,
    );
    expect(cookie).toContain('; Path=/toolmux/;');
  });
});
