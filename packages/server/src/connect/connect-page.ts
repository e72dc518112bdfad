import {
  type AuthField,
  type ConnectionRequestInfo,
  type Provider,
  type Toolkit,
  type ToolMux,
  ToolMuxError,
} from '@toolmux/core';
import {
  connectionRequestAuthorizationUrl,
  connectPageCookie,
  continueConnectionRequest,
  setOwn,
} from '@toolmux/core/internal';
import { readBodyText } from '../read-body.js';

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

function withStatus(
  callbackUrl: string,
  status: 'success' | 'failed',
  accountId: string | null,
  error?: string,
): string {
  const url = new URL(callbackUrl);
  url.searchParams.set('status', status);
  if (accountId) url.searchParams.set('connected_account_id', accountId);
  if (error) url.searchParams.set('error', error);
  return url.toString();
}

const START_AGAIN = '<p>Go back to the application and start connecting again.</p>';

function notFoundPage(): Response {
  return page(404, 'Link not valid', [
    '<p>This connect link is not valid: it is incomplete or was changed, or its connection was deleted.</p>',
    START_AGAIN,
  ]);
}

/**
 * The page of an expired link: `replaced` when newer connect links of the same user and app replaced
 * it (at most 10 stay open), where the user most likely has a newer link at hand.
 */
function expiredPage(replaced = false): Response {
  if (replaced) {
    return page(410, 'Link replaced by a newer link', [
      '<p>This connect link was replaced by a newer link: the application started newer connections for you since (at most 10 links stay open).</p>',
      '<p>Use the newest link the application gave you, or go back to the application and start connecting again.</p>',
    ]);
  }
  return page(410, 'Link expired', [
    '<p>This connect link has expired (links work for 10 minutes).</p>',
    START_AGAIN,
  ]);
}

/** The page of a connection that failed (`why`: a sentence on why, when the user can be told). */
function failedPage(appName: string, why?: string): Response {
  return page(410, 'Link no longer usable', [
    `<p>This ${escapeHtml(appName)} connection failed.${why ? ` ${escapeHtml(why)}` : ''}</p>`,
    START_AGAIN,
  ]);
}

/**
 * The page of a completed request; `sentAgain` when its form was sent once more, whose fields were not
 * used.
 */
function connectedPage(appName: string, request: ConnectionRequestInfo, sentAgain = false): Response {
  return page(200, `${appName} is connected`, [
    `<p>Your ${escapeHtml(appName)} account is connected.</p>`,
    sentAgain
      ? '<p class="muted">This link was used already: the account was connected with what was sent first, and what was sent again was not used.</p>'
      : '',
    `<p><a href="${escapeHtml(withStatus(request.callbackUrl, 'success', request.connectedAccountId))}">Back to the application</a></p>`,
  ]);
}

function usedPage(): Response {
  return page(410, 'Link already used', ['<p>This connect link was already used.</p>', START_AGAIN]);
}

/** The page for a request core refused to continue or complete, when the refusal says why. */
function refusalPage(error: unknown): Response | undefined {
  if (!ToolMuxError.isInstance(error)) return undefined;
  if (error.code === 'CONNECTION_REQUEST_NOT_FOUND') return notFoundPage();
  if (error.code === 'CONNECTION_REQUEST_EXPIRED') {
    return expiredPage((error.details as { replaced?: unknown } | undefined)?.replaced === true);
  }
  if (error.code === 'CONNECTION_REQUEST_INVALID') return usedPage();
  return undefined;
}

/**
 * The hosted connect flow: the page a user opens from a connection link (`GET /connect/:requestId`:
 * which app, for which user, then on to the provider or a credentials form), the form's submission,
 * and the default landing page (`/connect/done`). Everything it shows comes from core's connection
 * request, read by id from the shared store, so any instance serves any link.
 *
 * Plain server-rendered HTML, no script: a language, a title, one heading, labelled fields, and
 * headers that keep the link out of referrers, caches and frames.
 */
export class ConnectPages {
  readonly #toolmux: ToolMux<Provider<unknown>>;
  readonly #bodyLimit: number;

  constructor(options: { toolmux: ToolMux<Provider<unknown>>; bodyLimit: number }) {
    this.#toolmux = options.toolmux;
    this.#bodyLimit = options.bodyLimit;
  }

  /** The request, or the 404 page for an unknown id. */
  async #request(id: string): Promise<ConnectionRequestInfo | Response> {
    try {
      return await this.#toolmux.connectionRequests.get(id);
    } catch (error) {
      // an id that cannot be an id (control characters, ill-formed text) is no link of ours either
      if (ToolMuxError.isInstance(error) && error.code === 'INVALID_REQUEST') return notFoundPage();
      const refusal = refusalPage(error);
      if (refusal) return refusal;
      throw error;
    }
  }

  #toolkit(slug: string): Toolkit | undefined {
    return this.#toolmux.catalog.toolkits.get(slug);
  }

  /** `GET /connect/:requestId` */
  async show(id: string): Promise<Response> {
    const request = await this.#request(id);
    if (request instanceof Response) return request;
    const appName = this.#toolkit(request.toolkit)?.name ?? request.toolkit;
    switch (request.status) {
      case 'EXPIRED':
        return expiredPage(request.replacedByNewerRequests === true);
      case 'FAILED':
        return failedPage(appName);
      case 'COMPLETED':
        return connectedPage(appName, request);
      case 'PENDING':
        break;
    }
    if (request.kind === 'fields') return this.#form(request, appName, undefined, 200);
    let authorizationUrl: string;
    try {
      authorizationUrl = await connectionRequestAuthorizationUrl(this.#toolmux, request.id);
    } catch (error) {
      // the auth config was given another OAuth client since the link was made: core ended the request
      if (ToolMuxError.isInstance(error) && error.code === 'CONNECTION_FAILED') {
        return failedPage(appName, 'The application changed its sign-in settings since this link was made.');
      }
      const refusal = refusalPage(error);
      if (refusal) return refusal;
      throw error;
    }
    // "Continue" is this page's own POST, which sets the cookie the callback checks and only then
    // leads to the provider: the page never holds the provider's URL (with its OAuth state), so a copy
    // of it cannot be handed to someone else (connection fixation, see docs/security.md)
    const answer = page(
      200,
      `Connect ${appName}`,
      [
        ...this.#intro(request, appName),
        `<p>Continue to ${escapeHtml(appName)} to sign in and allow access. You will come back here afterwards.</p>`,
        // relative to the page (`…/connect/<id>`), as the credentials form
        `<form method="post" action="${encodeURIComponent(request.id)}/continue">`,
        `<button type="submit">Continue to ${escapeHtml(appName)}</button>`,
        '</form>',
      ],
      // the form's answer redirects to the provider, which the form-action of the CSP must allow
      { formTarget: authorizationUrl },
    );
    answer.headers.append(
      'set-cookie',
      await connectPageCookie(this.#toolmux, request.id, request.expiresAt),
    );
    return answer;
  }

  /**
   * `POST /connect/:requestId/continue`: the page's "Continue". Sets the cookie that binds the OAuth
   * callback to this browser and redirects to the provider (303). Refused (403, the request unchanged)
   * without the page's own cookie: a form sent from another site, or a browser that blocks cookies.
   */
  async continue(id: string, incoming: Request): Promise<Response> {
    const request = await this.#request(id);
    if (request instanceof Response) return request;
    const appName = this.#toolkit(request.toolkit)?.name ?? request.toolkit;
    if (request.status !== 'PENDING' || request.kind !== 'oauth2') return this.show(id);
    try {
      const { authorizationUrl, setCookie } = await continueConnectionRequest(
        this.#toolmux,
        request.id,
        incoming.headers.get('cookie'),
      );
      const headers = new Headers({ location: authorizationUrl, ...SECURITY_HEADERS });
      headers.append('set-cookie', setCookie);
      return new Response(null, { status: 303, headers });
    } catch (error) {
      if (ToolMuxError.isInstance(error) && error.code === 'CONNECTION_BROWSER_MISMATCH') {
        return page(403, 'Open the link again', [
          `<p>${escapeHtml(error.message)}</p>`,
          `<p><code>${error.code}</code></p>`,
        ]);
      }
      if (ToolMuxError.isInstance(error) && error.code === 'CONNECTION_FAILED') {
        return failedPage(appName, 'The application changed its sign-in settings since this link was made.');
      }
      const refusal = refusalPage(error);
      if (refusal) return refusal;
      throw error;
    }
  }

  #intro(request: ConnectionRequestInfo, appName: string): string[] {
    const toolkit = this.#toolkit(request.toolkit);
    return [
      `<p>You are connecting your <strong>${escapeHtml(appName)}</strong> account for user <strong>${escapeHtml(request.userId)}</strong>.</p>`,
      toolkit ? `<p class="muted">${escapeHtml(toolkit.description)}</p>` : '',
    ];
  }

  async #form(
    request: ConnectionRequestInfo,
    appName: string,
    error: string | undefined,
    status: number,
  ): Promise<Response> {
    const toolkit = this.#toolkit(request.toolkit);
    const config = await this.#toolmux.authConfigs.get(request.authConfigId);
    const fields = toolkit ? fieldsOf(toolkit, config.type) : [];
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
      ...(error ? [] : this.#intro(request, appName)),
      error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '',
      // relative to the page (`…/connect/<id>`): a baseUrl with a path, behind a proxy that strips
      // it, gets the form back through that path
      `<form method="post" action="${encodeURIComponent(request.id)}">`,
      ...inputs,
      `<button type="submit">Connect ${escapeHtml(appName)}</button>`,
      '</form>',
      `<p class="muted">What you enter is encrypted and only used for ${escapeHtml(appName)} tool calls for this user.</p>`,
    ];
    return page(status, `Connect ${appName}`, body, { formTarget: request.callbackUrl });
  }

  /**
   * `POST /connect/:requestId`: the credentials form. Core checks the fields and completes the
   * request once; the user goes on to the application's callbackUrl (303). Wrong fields show the form
   * again with what is wrong (never what was typed).
   */
  async submit(id: string, incoming: Request): Promise<Response> {
    const request = await this.#request(id);
    if (request instanceof Response) return request;
    // refused before the body is read: nothing of the form is stored, nor even parsed
    if (request.status === 'EXPIRED') return expiredPage(request.replacedByNewerRequests === true);
    const appName = this.#toolkit(request.toolkit)?.name ?? request.toolkit;
    // sent twice (a double click, a slow network, the form sent again after going back): the first
    // one connected the account, and the browser shows the answer to the last one
    if (request.status === 'COMPLETED') return connectedPage(appName, request, true);
    if (request.status !== 'PENDING') return usedPage();
    if (request.kind !== 'fields') {
      return page(405, 'Nothing to submit', ['<p>This connection continues at the provider, not here.</p>']);
    }
    let text: string;
    try {
      text = await readBodyText(incoming, this.#bodyLimit);
    } catch (error) {
      // a page, not the API's JSON: the user sees what to do
      if (ToolMuxError.isInstance(error) && error.code === 'REQUEST_TOO_LARGE') {
        return this.#form(request, appName, 'What you entered is too long. Check it and try again.', 413);
      }
      throw error;
    }
    const form = new URLSearchParams(text);
    const credentials: Record<string, string> = {};
    // a field named __proto__ is a field like any other (refused as unknown), not the object's prototype
    for (const [name, value] of form) if (value !== '') setOwn(credentials, name, value);
    const back = (location: string) =>
      new Response(null, { status: 303, headers: { location, ...SECURITY_HEADERS } });
    try {
      const account = await this.#toolmux.connectionRequests.complete(request.id, credentials);
      return back(withStatus(request.callbackUrl, 'success', account.id));
    } catch (error) {
      // sent twice at once (a double click): the other submission completed the request since it was
      // read above, and this answer is the one the browser shows
      if (ToolMuxError.isInstance(error) && error.code === 'CONNECTION_REQUEST_INVALID') {
        const current = await this.#request(request.id);
        if (!(current instanceof Response) && current.status === 'COMPLETED') {
          return connectedPage(appName, current, true);
        }
      }
      const refusal = refusalPage(error);
      if (refusal) return refusal;
      if (!ToolMuxError.isInstance(error) || error.status >= 500) throw error;
      if (error.code === 'CONNECTED_ACCOUNT_INVALID') return this.#form(request, appName, error.message, 400);
      // the auth config no longer fits (its toolkit dropped the scheme, …): the user cannot fix it here
      return back(withStatus(request.callbackUrl, 'failed', null, error.code));
    }
  }

  /** `GET /connect/done`: where users land when the application gave no callbackUrl. */
  done(url: URL): Response {
    const failed = url.searchParams.get('status') === 'failed';
    // the provider refused the application's OAuth client: not the user's doing, nor fixed by trying again
    const misconfigured = failed && url.searchParams.get('error') === 'auth_config_invalid';
    return page(200, failed ? 'Connection failed' : 'Connected', [
      misconfigured
        ? "<p>The account could not be connected: the service refused the application's own credentials (its OAuth client id or secret). This is not your fault, and trying again will not help until the application's operator fixes its configuration. Let them know.</p>"
        : failed
          ? '<p>The account could not be connected. Go back to the application and try again.</p>'
          : '<p>Your account is connected. You can close this window and go back to the application.</p>',
    ]);
  }
}

/**
 * The CSP `form-action` source that lets the form's answer lead to `target`: its origin, or for an
 * app's own scheme (`com.example.app:/done`, whose origin is the opaque `null`) the scheme itself.
 */
function formSource(target: string): string | undefined {
  const url = new URL(target);
  if (url.origin !== 'null') return url.origin;
  // only a reverse-domain scheme (core refuses others for a callback); never `data:` or `javascript:`
  return /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/.test(url.protocol) ? url.protocol : undefined;
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
  const target = options.formTarget === undefined ? undefined : formSource(options.formTarget);
  if (target) formAction.push(target);
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
