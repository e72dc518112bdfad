import { apiRef, type ErrorAudience, renderApiRefs } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import { type MetaToolKind, MetaToolSlug } from './meta-tools.js';

/**
 * Who reads the message of a failed call, for the way out it names: the meta-tools the reader has
 * (a session's agent has the session's meta-tools; an application calling `session.execute()` or
 * `tools.execute()` has none) and whether the call belongs to a session (then the application can
 * connect an account with `session.authorize`). A message names a meta-tool only when the reader
 * has it, in toolmux's names (a session with Composio's names renames them on the way out).
 */
export interface HintReader {
  readonly metaTools: ReadonlySet<MetaToolKind>;
  readonly session: boolean;
  /**
   * In whose words an operation of the application is named (`apiRef`): the SDK's (the default) or
   * the REST API's, for an HTTP client of the server.
   */
  readonly audience?: ErrorAudience;
  /**
   * The answer of TOOLMUX_MANAGE_CONNECTIONS that gives no link for the toolkit: its message does not
   * send the reader back to TOOLMUX_MANAGE_CONNECTIONS for one.
   */
  readonly noLinkHere?: boolean;
}

/** `reader` for `audience` (the same object when it already reads in those words). */
export function readerFor(reader: HintReader, audience: ErrorAudience): HintReader {
  return (reader.audience ?? 'sdk') === audience ? reader : { ...reader, audience };
}

/** `text` with its `apiRef` references in the words of `reader`. */
export function inWordsOf(reader: HintReader, text: string): string {
  return renderApiRefs(text, reader.audience ?? 'sdk');
}

/** A failure's message for `reader`: a ToolMuxError names operations in the reader's words. */
export function messageFor(error: { message: string }, reader: HintReader): string {
  // a ToolMuxError of another copy of the package, of a version without messageFor, has its message
  return ToolMuxError.isInstance(error) && typeof error.messageFor === 'function'
    ? error.messageFor(reader.audience ?? 'sdk')
    : error.message;
}

const NO_META_TOOLS: ReadonlySet<MetaToolKind> = new Set();

/** The reader of a call without meta-tools: an application, with or without a session. */
export function applicationReader(session: boolean): HintReader {
  return { metaTools: NO_META_TOOLS, session };
}

/** How the reader gets the user's account of `toolkit` connected, as a clause for "… , then retry". */
export function connectWay(toolkit: string, reader: HintReader): string {
  if (reader.metaTools.has('MANAGE_CONNECTIONS'))
    return `${MetaToolSlug.MANAGE_CONNECTIONS} gives a link to open`;
  return reader.session
    ? `the application starts the connection with ${apiRef('session.authorize', { toolkit })} and hands the user its ${apiRef('redirectUrl')}`
    : `the application connects one with ${apiRef('connectedAccounts.link')} and hands the user its link, or names an ACTIVE account with ${apiRef('connectedAccountId')}`;
}

/**
 * How the reader gets a new connection for an expired account of `toolkit`; one with an `alias` is
 * connected again under it (an expired account gives its alias up to a new connection).
 */
export function reconnectWay(
  toolkit: string,
  reader: HintReader,
  alias?: string,
  /** The expired account, which the application may reconnect in place. */
  connectedAccountId?: string,
): string {
  const under = alias === undefined ? '' : ` under the alias ${JSON.stringify(alias)}`;
  if (reader.metaTools.has('MANAGE_CONNECTIONS'))
    return alias === undefined
      ? `${MetaToolSlug.MANAGE_CONNECTIONS} with reinitiate: true gives a new link`
      : `${MetaToolSlug.MANAGE_CONNECTIONS} with alias: ${JSON.stringify(alias)} gives a new link for it`;
  if (reader.session)
    return `the application starts a new connection${under} with ${apiRef('session.authorize', { toolkit })} and hands the user its ${apiRef('redirectUrl')}`;
  return connectedAccountId === undefined
    ? `the application connects the account again${under} with ${apiRef('connectedAccounts.link')} and hands the user its link`
    : `the application reconnects the account in place with ${apiRef('connectedAccounts.reconnect', { connectedAccountId })} (same id and alias) and hands the user its link`;
}

/**
 * How the reader (a sentence) gets a usable account of `toolkit` when the session may only use the accounts the
 * application set for it (`connectedAccounts`, without an `authConfigs` entry) and none of them is
 * usable: a new connection would not be one of them, so no link can help an agent.
 */
export function pinnedAccountsWay(
  toolkit: { slug: string; name: string },
  reader: HintReader,
  /** The expired account among them, which the application may reconnect in place. */
  expiredId?: string,
): string {
  if (reader.metaTools.size > 0) {
    const tell = `tell the user that the application must reconnect that account or give this session another ${toolkit.name} account`;
    // an expired account is reconnected in place by the link TOOLMUX_MANAGE_CONNECTIONS gives (an
    // OAuth account's always, a form's where a connect page is hosted): no new account is made
    return expiredId !== undefined && reader.metaTools.has('MANAGE_CONNECTIONS') && !reader.noLinkHere
      ? `Call ${MetaToolSlug.MANAGE_CONNECTIONS} with toolkits ["${toolkit.slug}"] for a link that reconnects that same account (${expiredId}) in place, with no new account made, and hand it to the user; if it gives no link, ${tell}`
      : `A new link would connect an account this session cannot use, so do not ask for one: ${tell}`;
  }
  const inPlace =
    expiredId === undefined
      ? ''
      : `Reconnect ${expiredId} in place with ${apiRef('connectedAccounts.reconnect', { connectedAccountId: expiredId })} (or ${apiRef('session.ensureConnected', { toolkit: toolkit.slug })}, which starts it): once the user finishes, the session uses it again as it is. Or connect`;
  return `${inPlace || 'Connect'} ${inPlace ? 'another' : 'the account again'} (${apiRef('connectedAccounts.link')}) and give the session the new one with ${apiRef('session.update.connectedAccounts', { toolkit: toolkit.slug })}, or enable a disabled one (${apiRef('connectedAccounts.enable')})`;
}

/**
 * How the reader (a sentence) gets an account of `toolkit` when the session connects it through an auth config
 * (`authConfigs`) that was deleted since: every account of it went with it, and no connection can
 * be made on it.
 */
export function missingAuthConfigWay(toolkit: { slug: string; name: string }, reader: HintReader): string {
  return reader.metaTools.size > 0
    ? `No link can be made for it: tell the user that the application must give this session another ${toolkit.name} auth config`
    : `Give the session another one with ${apiRef('session.update.authConfigs', { toolkit: toolkit.slug })}, or remove the entry`;
}

/** Where the reader names the account of a call. */
export function accountOptionWay(reader: HintReader): string {
  const ways = [
    ...(reader.metaTools.has('MULTI_EXECUTE_TOOL')
      ? [`in ${MetaToolSlug.MULTI_EXECUTE_TOOL}, the "account" of the call`]
      : []),
    ...(reader.metaTools.has('WORKBENCH')
      ? ['in workbench code, toolmux.execute(slug, args, { account })']
      : []),
    ...(reader.metaTools.has('MULTI_EXECUTE_TOOL')
      ? []
      : [`in the application, ${apiRef('session.execute.account')}`]),
  ];
  return ways.join('; ');
}

/**
 * What the reader is told of a connected toolkit whose calls must each name one of `accounts`
 * (`multiAccount.requireExplicitSelection` with several ACTIVE): which, and where a call names one.
 */
export function mustChooseText(
  toolkitName: string,
  accounts: ReadonlyArray<{ id: string; alias: string | null }>,
  reader: HintReader,
): string {
  const names = accounts.map((account) => (account.alias ? `"${account.alias}"` : account.id));
  return inWordsOf(
    reader,
    `${toolkitName} is connected with several accounts (${names.join(', ')}) and this session's calls must name one (an alias or id): ${accountOptionWay(reader)}. Ask the user which account if it is not clear.`,
  );
}

/** Where a reader sets the account of a proxied request: `toolmux.proxy` in workbench code, or the app's `proxyExecute`. */
export function proxyAccountWay(reader: HintReader): string {
  return [
    ...(reader.metaTools.has('WORKBENCH')
      ? ['in workbench code, toolmux.proxy({ …, connectedAccountId })']
      : []),
    `in the application, ${apiRef('session.proxyExecute.account')}`,
  ].join('; ');
}

/** How each error made by {@link readerError} is made again for another reader. */
const builders = new WeakMap<ToolMuxError, (reader: HintReader) => ToolMuxError>();

/**
 * An error whose message names a way out that depends on the reader (`build` makes it for one): made
 * for an application of a session until {@link forReader} makes it again for the call's reader.
 */
export function readerError(build: (reader: HintReader) => ToolMuxError): ToolMuxError {
  const error = build(applicationReader(true));
  builders.set(error, build);
  return error;
}

/** `error` with its way out in the words of `reader` (any other error as it is). */
export function forReader(error: unknown, reader: HintReader): unknown {
  const build = ToolMuxError.isInstance(error) ? builders.get(error) : undefined;
  return build ? build(reader) : error;
}
