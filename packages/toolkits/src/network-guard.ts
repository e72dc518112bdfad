import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Dispatcher } from 'undici';

/**
 * The `ipaddr.js` range of an IP address (`'unicast'` means public), looking through the IPv6 forms
 * that carry an IPv4 address: IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`,
 * IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16` and Teredo
 * `2001::/32` (its server and its obfuscated client address). Such a form is as public as the IPv4
 * address inside it, so `64:ff9b::a9fe:a9fe` is `linkLocal` like 169.254.169.254. Anything that is not
 * an IP address is `'invalid'`.
 *
 * @example
 * addressRange('2002:7f00:1::'); // 'loopback' (6to4 of 127.0.0.1)
 * addressRange('93.184.216.34'); // 'unicast'
 */
export function addressRange(address: string): string {
  const host = address.replace(/^\[|\]$/g, '');
  if (!ipaddr.isValid(host)) return 'invalid';
  const parsed = ipaddr.parse(host);
  if (parsed.kind() === 'ipv4') return parsed.range();
  const ipv6 = parsed as ipaddr.IPv6;
  const range = ipv6.range();
  const embedded = embeddedIPv4(ipv6, range);
  if (embedded === undefined) return range;
  return embedded.map((ipv4) => ipv4.range()).find((inner) => inner !== 'unicast') ?? 'unicast';
}

/** True for a public (globally routable unicast) address; see {@link addressRange}. */
export function isPublicAddress(address: string): boolean {
  return addressRange(address) === 'unicast';
}

function ipv4Of(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** The IPv4 addresses an IPv6 address stands for, or `undefined` for a plain IPv6 address. */
function embeddedIPv4(ipv6: ipaddr.IPv6, range: string): ipaddr.IPv4[] | undefined {
  const parts = ipv6.parts;
  switch (range) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return [ipv4Of(parts[6]!, parts[7]!)];
    case 'rfc6052':
      // 64:ff9b::/96 keeps the address in the last 32 bits; the local-use 64:ff9b:1::/48 may use the
      // RFC 6052 /48 layout (bits 48–63 and 72–87) or the /96 one: both readings must be public.
      return parts[2] === 0
        ? [ipv4Of(parts[6]!, parts[7]!)]
        : [ipv4Of(parts[6]!, parts[7]!), ipv4Of(parts[3]!, ((parts[4]! & 0xff) << 8) | (parts[5]! >> 8))];
    case '6to4':
      return [ipv4Of(parts[1]!, parts[2]!)];
    case 'teredo':
      // server address, then the client's, stored inverted
      return [ipv4Of(parts[2]!, parts[3]!), ipv4Of(~parts[6]! & 0xffff, ~parts[7]! & 0xffff)];
    case 'unicast':
      // IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks); `::` and `::1` have ranges
      return parts.slice(0, 6).every((part) => part === 0) ? [ipv4Of(parts[6]!, parts[7]!)] : undefined;
    default:
      return undefined;
  }
}

/** A connection refused because its address is not public. */
export class PrivateAddressError extends Error {
  override readonly name = 'PrivateAddressError';
  readonly code = 'ERR_PRIVATE_ADDRESS';
  /** The host name (or address) that was asked for. */
  readonly host: string;
  /** The address it is, or resolved to. */
  readonly address: string;
  /** Its {@link addressRange}. */
  readonly range: string;
  constructor(host: string, address: string, range: string) {
    super(
      host === address
        ? `${address} is a ${range} address, not a public one`
        : `${host} resolves to ${address}, a ${range} address, not a public one`,
    );
    this.host = host;
    this.address = address;
    this.range = range;
  }
}

export interface PublicOnlyOptions {
  /**
   * Resolves host names (a `dns.lookup`-compatible function), e.g. to use another DNS server.
   * @default dns.lookup
   */
  lookup?: LookupFunction;
  /**
   * Decides whether an address may be connected to, given its {@link addressRange}.
   * @default range === 'unicast'
   */
  isAllowed?: (address: string, range: string) => boolean;
}

const publicOnly = (_address: string, range: string): boolean => range === 'unicast';

function refusal(host: string, address: string, isAllowed: NonNullable<PublicOnlyOptions['isAllowed']>) {
  const range = addressRange(address);
  return isAllowed(address, range) ? undefined : new PrivateAddressError(host, address, range);
}

/**
 * A `lookup` for `net.connect` / `tls.connect` that resolves the host once and fails with a
 * {@link PrivateAddressError} when any of its addresses is not allowed, so the socket only ever
 * connects to an address that was checked (no second resolution a DNS rebinding could answer
 * differently).
 */
export function publicOnlyLookup(options: PublicOnlyOptions = {}): LookupFunction {
  const resolve = options.lookup ?? (dnsLookup as LookupFunction);
  const isAllowed = options.isAllowed ?? publicOnly;
  return (hostname, lookupOptions, callback) => {
    resolve(hostname, { ...lookupOptions, all: true }, (error, result) => {
      if (error) return callback(error, '', 0);
      const addresses = (
        Array.isArray(result) ? result : [{ address: result, family: 0 }]
      ) as LookupAddress[];
      if (addresses.length === 0) {
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      }
      for (const { address } of addresses) {
        const refused = refusal(hostname, address, isAllowed);
        if (refused) return callback(refused, '', 0);
      }
      if (lookupOptions.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/**
 * The refusal of a URL host that needs no DNS to judge: an IP address that is not allowed, or a
 * `localhost` name. `undefined` for any other host (judged when it is resolved).
 */
export function refusedHost(
  hostname: string,
  options: Pick<PublicOnlyOptions, 'isAllowed'> = {},
): PrivateAddressError | undefined {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(host)) return refusal(host, host, options.isAllowed ?? publicOnly);
  if (host === 'localhost' || host.endsWith('.localhost'))
    return new PrivateAddressError(host, host, 'loopback');
  return undefined;
}

/**
 * An undici dispatcher whose every connection goes to a checked public address: host names are
 * resolved at connect time by {@link publicOnlyLookup}, and addresses in URLs (`http://[::ffff:7f00:1]/`)
 * and `localhost` names are refused before connecting. Redirects followed by undici's `fetch` connect
 * through it too, so each hop is checked. (undici is loaded on first use.)
 */
export async function publicOnlyDispatcher(options: PublicOnlyOptions = {}): Promise<Dispatcher> {
  const { Agent, buildConnector } = await import('undici');
  const connect = buildConnector({ lookup: publicOnlyLookup(options) });
  return new Agent({
    connect: (connectOptions, callback) => {
      const refused = refusedHost(connectOptions.hostname, options);
      if (refused) return callback(refused, null);
      connect(connectOptions, callback);
    },
  });
}

/**
 * A `fetch` that only connects to public addresses (see {@link publicOnlyDispatcher}); a refused
 * connection rejects with the {@link PrivateAddressError}. It is undici's own `fetch` with its own
 * dispatcher (Node's global `fetch` bundles another undici version, which must not be handed this one).
 * It takes a URL (string or `URL`) and options, not a `Request`.
 */
export function publicOnlyFetch(options: PublicOnlyOptions = {}): typeof globalThis.fetch {
  let ready: Promise<{ dispatcher: Dispatcher; fetch: typeof import('undici').fetch }> | undefined;
  return async (input, init) => {
    if (input instanceof Request) {
      throw new TypeError('publicOnlyFetch takes a URL and options, not a Request');
    }
    ready ??= Promise.all([publicOnlyDispatcher(options), import('undici')]).then(([dispatcher, undici]) => ({
      dispatcher,
      fetch: undici.fetch,
    }));
    const { dispatcher, fetch } = await ready;
    try {
      return (await fetch(input, {
        ...(init as Parameters<typeof fetch>[1]),
        dispatcher,
      })) as unknown as Response;
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      throw cause instanceof PrivateAddressError ? cause : error;
    }
  };
}
