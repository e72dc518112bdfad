import {
  type AuthField,
  type ConnectionRequest,
  type Provider,
  type Toolkit,
  type ToolMux,
  ToolMuxError,
} from '@toolmux/core';
import { newId } from '@toolmux/core/internal';
import { readBodyText } from '../read-body.js';
import { type ConnectLinkPayload, ConnectLinks } from './connect-link.js';

/** A credentials link works this long (as core's OAuth connection requests do). */
const FIELDS_LINK_TTL_MS = 10 * 60_000;

/** What REST answers for a connection in flight. */
export interface ConnectLink {
  id: string;
  connectedAccountId: string | null;
  toolkit: string;
  redirectUrl: string;
  expiresAt: Date;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** The fields a user fills in for an api_key / bearer / basic scheme (with core's defaults). */
export function fieldsOf(toolkit: Toolkit, type: string): AuthField[] {
  const scheme = toolkit.auth.find((candidate) => candidate.type === type);
  if (scheme && 'fields' in scheme && scheme.fields) return scheme.fields;
  if (type === 'bearer') return [{ name: 'token', label: 'Token', secret: true }];
  if (type === 'basic') {
    return [
      { name: 'username', label: 'Username', secret: false },
      { name: 'password', label: 'Password', secret: true },
    ];
  }
  return [{ name: 'apiKey', label: 'API key', secret: true }];
}

function withStatus(callbackUrl: string, status: 'success' | 'failed', accountId?: string): string {
  const url = new URL(callbackUrl);
  url.searchParams.set('status', status);
  if (accountId) url.searchParams.set('connected_account_id', accountId);
  return url.toString();
}

/**
 * The hosted connect flow: links the REST API hands out (`redirect_url`), the page a user opens from
 * one (`GET /connect/:requestId`: which app, for which user, then on to the provider or a credentials
 * form), the form's submission, and the default landing page (`/connect/done`).
 *
 * Plain server-rendered HTML, no script: a language, a title, one heading, labelled fields, and
 * headers that keep the link out of referrers, caches and frames.
 */
export class ConnectPages {
  readonly #toolmux: ToolMux<Provider<unknown>>;
  readonly #links: ConnectLinks;
  readonly #bodyLimit: number;

  constructor(options: { toolmux: ToolMux<Provider<unknown>>; apiKey: string; bodyLimit: number }) {
    this.#toolmux = options.toolmux;
    this.#links = new ConnectLinks(options.apiKey);
    this.#bodyLimit = options.bodyLimit;
  }

  #url(id: string, token: string): string {
    return `${this.#toolmux.baseUrl}/connect/${encodeURIComponent(id)}?t=${token}`;
  }

  /** The hosted page for an OAuth connection request core made. */
  oauthLink(request: ConnectionRequest, userId: string, callbackUrl: string | undefined): ConnectLink {
    const token = this.#links.seal({
      kind: 'oauth2',
      id: request.id,
      userId,
      toolkit: request.toolkit,
      connectedAccountId: request.connectedAccountId!,
      authorizationUrl: request.redirectUrl,
      callbackUrl: callbackUrl ?? this.#toolmux.defaultCallbackUrl,
      expiresAt: request.expiresAt.getTime(),
    });
    return {
      id: request.id,
      connectedAccountId: request.connectedAccountId,
      toolkit: request.toolkit,
      redirectUrl: this.#url(request.id, token),
      expiresAt: request.expiresAt,
    };
  }

  /** A page that asks the user for an api_key / bearer / basic auth config's fields. */
  fieldsLink(options: {
    userId: string;
    authConfigId: string;
    type: string;
    toolkit: string;
    callbackUrl: string | undefined;
  }): ConnectLink {
    const id = newId('cr');
    const expiresAt = new Date(Date.now() + FIELDS_LINK_TTL_MS);
    const callbackUrl = options.callbackUrl ?? this.#toolmux.defaultCallbackUrl;
    const token = this.#links.seal({
      kind: 'fields',
      id,
      userId: options.userId,
      toolkit: options.toolkit,
      authConfigId: options.authConfigId,
      type: options.type,
      callbackUrl,
      expiresAt: expiresAt.getTime(),
    });
    return {
      id,
      connectedAccountId: null,
      toolkit: options.toolkit,
      redirectUrl: this.#url(id, token),
      expiresAt,
    };
  }

  #open(id: string, token: string | undefined): ConnectLinkPayload | Response {
    const payload = token ? this.#links.open(id, token) : undefined;
    if (!payload) {
      return page(404, 'Link not valid', [
        '<p>This connect link is not valid: it is incomplete, was changed, or comes from another server.</p>',
        '<p>Go back to the application and start connecting again.</p>',
      ]);
    }
    if (payload.expiresAt <= Date.now()) {
      return page(410, 'Link expired', [
        '<p>This connect link has expired (links work for 10 minutes).</p>',
        '<p>Go back to the application and start connecting again.</p>',
      ]);
    }
    return payload;
  }

  #toolkit(slug: string): Toolkit | undefined {
    return this.#toolmux.catalog.toolkits.get(slug);
  }

  /** `GET /connect/:requestId` */
  async show(id: string, token: string | undefined): Promise<Response> {
    const payload = this.#open(id, token);
    if (payload instanceof Response) return payload;
    const toolkit = this.#toolkit(payload.toolkit);
    const appName = toolkit?.name ?? payload.toolkit;
    const intro = [
      `<p>You are connecting your <strong>${escapeHtml(appName)}</strong> account for user <strong>${escapeHtml(payload.userId)}</strong>.</p>`,
      toolkit ? `<p class="muted">${escapeHtml(toolkit.description)}</p>` : '',
    ];
    if (payload.kind === 'oauth2') {
      const account = await this.#toolmux.connectedAccounts
        .get(payload.connectedAccountId)
        .catch(() => undefined);
      if (account?.status === 'ACTIVE') {
        return page(200, `${appName} is connected`, [
          `<p>Your ${escapeHtml(appName)} account is connected.</p>`,
          `<p><a href="${escapeHtml(withStatus(payload.callbackUrl, 'success', account.id))}">Back to the application</a></p>`,
        ]);
      }
      if (!account || account.status !== 'INITIATED') {
        return page(410, 'Link no longer usable', [
          `<p>This connection ended ${escapeHtml(account?.status ?? 'DELETED')}. Go back to the application and start again.</p>`,
        ]);
      }
      return page(200, `Connect ${appName}`, [
        ...intro,
        `<p>Continue to ${escapeHtml(appName)} to sign in and allow access. You will come back here afterwards.</p>`,
        `<p><a class="button" href="${escapeHtml(payload.authorizationUrl)}">Continue to ${escapeHtml(appName)}</a></p>`,
      ]);
    }
    return this.#form(payload, token!, appName, intro, undefined, 200);
  }

  #form(
    payload: Extract<ConnectLinkPayload, { kind: 'fields' }>,
    token: string,
    appName: string,
    intro: string[],
    error: string | undefined,
    status: number,
  ): Response {
    const toolkit = this.#toolkit(payload.toolkit);
    const fields = toolkit ? fieldsOf(toolkit, payload.type) : [];
    const inputs = fields.map((field, index) => {
      const inputId = `field-${index}`;
      const hintId = `${inputId}-hint`;
      const required = field.required !== false;
      return [
        '<div class="field">',
        `<label for="${inputId}">${escapeHtml(field.label ?? field.name)}${required ? '' : ' (optional)'}</label>`,
        field.description ? `<p class="muted" id="${hintId}">${escapeHtml(field.description)}</p>` : '',
        `<input id="${inputId}" name="${escapeHtml(field.name)}" type="${field.secret === false ? 'text' : 'password'}"`,
        ` autocomplete="off" spellcheck="false"${required ? ' required' : ''}${field.description ? ` aria-describedby="${hintId}"` : ''}>`,
        '</div>',
      ].join('');
    });
    const body = [
      ...intro,
      error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '',
      `<form method="post" action="/connect/${encodeURIComponent(payload.id)}?t=${encodeURIComponent(token)}">`,
      ...inputs,
      `<button type="submit">Connect ${escapeHtml(appName)}</button>`,
      '</form>',
      `<p class="muted">What you enter is encrypted and only used for ${escapeHtml(appName)} tool calls for this user.</p>`,
    ];
    return page(status, `Connect ${appName}`, body, { formTarget: payload.callbackUrl });
  }

  /** `POST /connect/:requestId`: the credentials form. */
  async submit(id: string, token: string | undefined, request: Request): Promise<Response> {
    const payload = this.#open(id, token);
    if (payload instanceof Response) return payload;
    if (payload.kind !== 'fields') {
      return page(405, 'Nothing to submit', ['<p>This connection continues at the provider, not here.</p>']);
    }
    const form = new URLSearchParams(await readBodyText(request, this.#bodyLimit));
    const credentials: Record<string, string> = {};
    for (const [name, value] of form) if (value !== '') credentials[name] = value;
    const appName = this.#toolkit(payload.toolkit)?.name ?? payload.toolkit;
    try {
      const account = await this.#toolmux.connectedAccounts.create(
        payload.userId,
        payload.authConfigId,
        credentials,
      );
      return new Response(null, {
        status: 303,
        headers: { location: withStatus(payload.callbackUrl, 'success', account.id), ...SECURITY_HEADERS },
      });
    } catch (error) {
      if (!ToolMuxError.isInstance(error) || error.status >= 500) throw error;
      return this.#form(payload, token!, appName, [], error.message, 400);
    }
  }

  /** `GET /connect/done`: where users land when the application gave no callbackUrl. */
  done(url: URL): Response {
    const failed = url.searchParams.get('status') === 'failed';
    return page(200, failed ? 'Connection failed' : 'Connected', [
      failed
        ? '<p>The account could not be connected. Go back to the application and try again.</p>'
        : '<p>Your account is connected. You can close this window and go back to the application.</p>',
    ]);
  }
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

function page(
  status: number,
  title: string,
  body: string[],
  options: { formTarget?: string } = {},
): Response {
  const formAction = ["'self'"];
  if (options.formTarget) formAction.push(new URL(options.formTarget).origin);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · toolmux</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
main{max-width:32rem;margin:3rem auto;padding:2rem;background:#fff;border:1px solid #d5d9de;border-radius:8px}
h1{font-size:1.5rem;margin-top:0}
.muted{color:#505a66;font-size:.9rem}
.error{color:#8a1c1c;background:#fdecec;padding:.5rem .75rem;border-radius:4px}
.field{margin:1rem 0}
label{display:block;font-weight:600;margin-bottom:.25rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #8c959f;border-radius:4px}
button,.button{display:inline-block;padding:.6rem 1.2rem;font:inherit;font-weight:600;color:#fff;background:#1f5fbf;border:0;border-radius:4px;text-decoration:none;cursor:pointer}
button:focus,.button:focus,input:focus{outline:3px solid #f0b400;outline-offset:2px}
</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body.filter(Boolean).join('\n')}
</main>
</body>
</html>
`;
  return new Response(html, {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction.join(' ')}; frame-ancestors 'none'; base-uri 'none'`,
      ...SECURITY_HEADERS,
    },
  });
}
