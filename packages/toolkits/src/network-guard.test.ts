import { createSocket, type Socket } from 'node:dgram';
import { Resolver } from 'node:dns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run, toolContext } from '../test/api-server.js';
import { createHttpToolkit } from './http-toolkit.js';
import {
  addressRange,
  isPublicAddress,
  PrivateAddressError,
  publicOnlyFetch,
  refusedHost,
} from './network-guard.js';

/** Non-public IPv4 blocks, written out here (not taken from ipaddr.js) as the test's own oracle. */
const NON_PUBLIC_IPV4: Array<[string, number]> = [
  ['0.0.0.0', 8], // this network / unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

const toInt = (ipv4: string) => ipv4.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
const toIPv4 = (value: number) => [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
const inBlock = (value: number, [network, prefix]: [string, number]) =>
  prefix === 0 || value >>> (32 - prefix) === toInt(network) >>> (32 - prefix);

const nonPublicIPv4 = fc
  .constantFrom(...NON_PUBLIC_IPV4)
  .chain(([network, prefix]) =>
    fc.integer({ min: 0, max: 2 ** (32 - prefix) - 1 }).map((offset) => (toInt(network) + offset) >>> 0),
  );
/** Addresses outside every special block (also outside the smaller ones ipaddr.js knows, like AS112). */
const publicIPv4 = fc
  .integer({ min: 0, max: 2 ** 32 - 1 })
  .filter((value) => !NON_PUBLIC_IPV4.some((block) => inBlock(value, block)))
  .filter((value) => !(value >>> 8 === toInt('192.88.99.0') >>> 8)) // 6to4 relay anycast
  .filter(
    (value) => !(value >>> 8 === toInt('192.175.48.0') >>> 8 || value >>> 8 === toInt('192.31.196.0') >>> 8),
  )
  .filter((value) => !(value >>> 8 === toInt('192.52.193.0') >>> 8));

const hex16 = (value: number) => value.toString(16);
const high = (value: number) => hex16(value >>> 16);
const low = (value: number) => hex16(value & 0xffff);

/** Every IPv6 form that carries an IPv4 address, in the spellings a URL or a DNS answer may use. */
const EMBEDDINGS: Record<string, (ipv4: number) => string[]> = {
  'IPv4-mapped': (v) => [`::ffff:${toIPv4(v)}`, `::ffff:${high(v)}:${low(v)}`, `0:0:0:0:0:FFFF:${toIPv4(v)}`],
  'IPv4-translated': (v) => [`::ffff:0:${toIPv4(v)}`, `::ffff:0:${high(v)}:${low(v)}`],
  'IPv4-compatible': (v) => [`::${toIPv4(v)}`, `0:0:0:0:0:0:${high(v)}:${low(v)}`],
  'NAT64 64:ff9b::/96': (v) => [`64:ff9b::${toIPv4(v)}`, `64:ff9b::${high(v)}:${low(v)}`],
  'NAT64 64:ff9b:1::/48, /96 layout': (v) => [
    `64:ff9b:1::${high(v)}:${low(v)}`,
    `64:ff9b:1:ab::${toIPv4(v)}`,
  ],
  'NAT64 64:ff9b:1::/48, /48 layout': (v) => [
    `64:ff9b:1:${high(v)}:${hex16((v >>> 8) & 0xff)}:${hex16((v & 0xff) << 8)}::`,
  ],
  '6to4 2002::/16': (v) => [`2002:${high(v)}:${low(v)}::`, `2002:${high(v)}:${low(v)}:1:2:3:4:5`],
  'Teredo client': (v) => [`2001:0:4136:e378:8000:63bf:${hex16(~v >>> 16)}:${hex16(~v & 0xffff)}`],
  'Teredo server': (v) => [`2001:0:${high(v)}:${low(v)}:8000:63bf:f7f7:f7f7`], // client 8.8.8.8
};

describe('addressRange / isPublicAddress', () => {
  it('refuses the forms the issue names, and what they stand for', () => {
    for (const address of [
      '64:ff9b::a9fe:a9fe',
      '2002:a9fe:a9fe::',
      '::127.0.0.1',
      '::ffff:127.0.0.1',
      '[::ffff:7f00:1]',
      '169.254.169.254',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'ff02::1',
      '2001:db8::1',
      '100.64.0.1',
    ]) {
      expect(isPublicAddress(address), address).toBe(false);
    }
    expect(addressRange('64:ff9b::a9fe:a9fe')).toBe('linkLocal');
    expect(addressRange('2002:7f00:1::')).toBe('loopback');
    expect(addressRange('::10.1.2.3')).toBe('private');
    expect(addressRange('not an address')).toBe('invalid');
    // local-use NAT64: the /96 layout of 8.8.8.8 reads 0.0.8.8 in the /48 layout, so it is refused
    expect(addressRange('64:ff9b:1::808:808')).toBe('unspecified');
    expect(isPublicAddress('64:ff9b:1:808:8:800:808:808')).toBe(true);
    for (const address of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '64:ff9b::8.8.8.8']) {
      expect(isPublicAddress(address), address).toBe(true);
    }
  });

  it('a non-public IPv4 address is non-public in every IPv6 form that embeds it (property)', () => {
    for (const [form, spell] of Object.entries(EMBEDDINGS)) {
      fc.assert(
        fc.property(nonPublicIPv4, (value) => {
          for (const address of spell(value)) {
            expect(isPublicAddress(toIPv4(value)), toIPv4(value)).toBe(false);
            expect(isPublicAddress(address), `${form}: ${address}`).toBe(false);
          }
        }),
        { numRuns: 300 },
      );
    }
  });

  it('a public IPv4 address stays public in those forms, and non-public IPv6 blocks are refused (property)', () => {
    for (const [form, spell] of Object.entries(EMBEDDINGS)) {
      // the local-use NAT64 prefix is public only when both of its layouts read a public address
      if (form.startsWith('NAT64 64:ff9b:1::')) continue;
      fc.assert(
        fc.property(publicIPv4, (value) => {
          for (const address of spell(value)) {
            expect(isPublicAddress(address), `${form}: ${address}`).toBe(true);
          }
        }),
        { numRuns: 200 },
      );
    }
    const group = fc.integer({ min: 0, max: 0xffff }).map(hex16);
    const rest = fc.array(group, { minLength: 7, maxLength: 7 });
    for (const [prefix, bits] of [
      [0xfe80, 10], // link-local
      [0xfc00, 7], // unique local
      [0xff00, 8], // multicast
      [0xfec0, 10], // deprecated site-local
    ] as const) {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** (16 - bits) - 1 }), rest, (offset, groups) => {
          const address = [hex16(prefix + offset), ...groups].join(':');
          expect(isPublicAddress(address), address).toBe(false);
        }),
        { numRuns: 200 },
      );
    }
  });

  it('refusedHost judges addresses and localhost names in URLs without DNS', () => {
    expect(refusedHost('[::ffff:7f00:1]')).toBeInstanceOf(PrivateAddressError);
    expect(refusedHost('api.localhost')?.range).toBe('loopback');
    expect(refusedHost('LOCALHOST')).toBeInstanceOf(PrivateAddressError);
    expect(refusedHost('example.com')).toBeUndefined();
    expect(refusedHost('93.184.216.34')).toBeUndefined();
  });
});

/**
 * A DNS server on loopback that answers A queries from a script (one answer list per query, the last
 * one repeated), with TTL 0, and counts the queries per name.
 */
interface TestDns {
  port: number;
  answers: Map<string, string[][]>;
  queries: Map<string, number>;
  lookup: LookupFunction;
  close(): Promise<void>;
}

async function startDns(): Promise<TestDns> {
  const socket: Socket = createSocket('udp4');
  const answers = new Map<string, string[][]>();
  const queries = new Map<string, number>();
  socket.on('message', (message, remote) => {
    const labels: string[] = [];
    let offset = 12;
    while (message[offset]! > 0) {
      labels.push(message.subarray(offset + 1, offset + 1 + message[offset]!).toString('latin1'));
      offset += message[offset]! + 1;
    }
    const questionEnd = offset + 5;
    const name = labels.join('.').toLowerCase();
    const type = message.readUInt16BE(offset + 1);
    const count = queries.get(name) ?? 0;
    queries.set(name, count + 1);
    const script = answers.get(name) ?? [];
    const addresses = type === 1 ? (script[Math.min(count, script.length - 1)] ?? []) : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(message.readUInt16BE(0), 0); // id
    header.writeUInt16BE(script.length > 0 ? 0x8180 : 0x8183, 2); // response, RD, RA; NXDOMAIN if unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(addresses.length, 6);
    const records = addresses.map((address) => {
      const record = Buffer.alloc(16);
      record.writeUInt16BE(0xc00c, 0); // the question's name
      record.writeUInt16BE(1, 2); // A
      record.writeUInt16BE(1, 4); // IN
      record.writeUInt32BE(0, 6); // TTL 0: a rebinding answer may change at once
      record.writeUInt16BE(4, 10);
      address.split('.').forEach((octet, index) => {
        record[12 + index] = Number(octet);
      });
      return record;
    });
    socket.send(
      Buffer.concat([header, message.subarray(12, questionEnd), ...records]),
      remote.port,
      remote.address,
    );
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = (socket.address() as AddressInfo).port;
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const lookup: LookupFunction = (hostname, options, callback) => {
    resolver.resolve4(hostname, (error, addresses) => {
      if (error) return callback(error, '', 0);
      if (options.all)
        return callback(
          null,
          addresses.map((address) => ({ address, family: 4 })),
        );
      callback(null, addresses[0]!, 4);
    });
  };
  return {
    port,
    answers,
    queries,
    lookup,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

interface Target {
  server: Server;
  port: number;
  requests: string[];
}

async function listen(host: string, port: number, redirectTo?: () => string): Promise<Target> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.headers.host}${request.url}`);
    const location = redirectTo?.();
    if (location && request.url === '/redirect') {
      response.writeHead(302, { location, connection: 'close' }).end();
    } else {
      response
        .writeHead(200, { 'content-type': 'text/plain', connection: 'close' })
        .end(`hello from ${host}`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return { server, port: (server.address() as AddressInfo).port, requests };
}

describe('connections are checked at connect time (DNS rebinding)', () => {
  let dns: TestDns;
  // 127.0.0.2 plays a public web site (the tests allow it); 127.0.0.1 is the private target
  let site: Target;
  let secret: Target;
  let redirectTo = '';
  const allowSite = (address: string, range: string) => range === 'unicast' || address === '127.0.0.2';

  beforeAll(async () => {
    dns = await startDns();
    site = await listen('127.0.0.2', 0, () => redirectTo);
    secret = await listen('127.0.0.1', site.port);
  });

  afterEach(() => {
    dns.answers.clear();
    dns.queries.clear();
    site.requests.length = 0;
    secret.requests.length = 0;
  });

  afterAll(async () => {
    await dns.close();
    site.server.closeAllConnections();
    secret.server.closeAllConnections();
    await new Promise((resolve) => site.server.close(resolve));
    await new Promise((resolve) => secret.server.close(resolve));
  });

  it('the http toolkit refuses a name that resolves to loopback, from the one resolution of the connection', async () => {
    dns.answers.set('rebind.test', [['127.0.0.1']]);
    const toolkit = createHttpToolkit({ lookup: dns.lookup });
    await expect(
      run(toolkit, 'HTTP_GET', { url: `http://rebind.test:${secret.port}/latest` }, toolContext()),
    ).rejects.toThrow(
      /Refused to call http:\/\/rebind\.test:\d+: rebind\.test resolves to 127\.0\.0\.1, a loopback address/,
    );
    expect(secret.requests).toEqual([]);
    // no check-then-connect: the name was looked up once, by the connection itself
    expect(dns.queries.get('rebind.test')).toBe(1);
  });

  it('a name that answers a public address first and loopback next only ever reaches the public one', async () => {
    dns.answers.set('rebind.test', [['127.0.0.2'], ['127.0.0.1']]);
    const fetch = publicOnlyFetch({ lookup: dns.lookup, isAllowed: allowSite });
    const first = await fetch(`http://rebind.test:${site.port}/`);
    expect(await first.text()).toBe('hello from 127.0.0.2');
    // the site closed the connection, so the next request connects again and resolves again
    await expect(fetch(`http://rebind.test:${site.port}/`)).rejects.toThrow(
      /rebind\.test resolves to 127\.0\.0\.1, a loopback address/,
    );
    expect(site.requests).toHaveLength(1);
    expect(secret.requests).toEqual([]);
    expect(dns.queries.get('rebind.test')).toBe(2);
  });

  it('every address of an answer is checked, not only the first', async () => {
    dns.answers.set('both.test', [['127.0.0.2', '127.0.0.1']]);
    const fetch = publicOnlyFetch({ lookup: dns.lookup, isAllowed: allowSite });
    await expect(fetch(`http://both.test:${site.port}/`)).rejects.toBeInstanceOf(PrivateAddressError);
    expect(site.requests).toEqual([]);
    expect(secret.requests).toEqual([]);
  });

  it('each redirect hop connects through the guard', async () => {
    dns.answers.set('site.test', [['127.0.0.2']]);
    dns.answers.set('rebind.test', [['127.0.0.1']]);
    const fetch = publicOnlyFetch({ lookup: dns.lookup, isAllowed: allowSite });
    for (const location of [
      `http://rebind.test:${secret.port}/latest`,
      `http://127.0.0.1:${secret.port}/latest`,
      `http://[::ffff:127.0.0.1]:${secret.port}/latest`,
      `http://localhost:${secret.port}/latest`,
    ]) {
      redirectTo = location;
      await expect(fetch(`http://site.test:${site.port}/redirect`), location).rejects.toBeInstanceOf(
        PrivateAddressError,
      );
    }
    expect(site.requests).toHaveLength(4);
    expect(secret.requests).toEqual([]);
  });

  it('an address literal in the URL is refused before connecting, and allowed sites are reached', async () => {
    const fetch = publicOnlyFetch({ lookup: dns.lookup, isAllowed: allowSite });
    await expect(fetch(`http://127.0.0.1:${secret.port}/`)).rejects.toThrow(
      /127\.0\.0\.1 is a loopback address/,
    );
    await expect(fetch(`http://[::ffff:7f00:1]:${secret.port}/`)).rejects.toBeInstanceOf(PrivateAddressError);
    expect(await (await fetch(`http://127.0.0.2:${site.port}/`)).text()).toBe('hello from 127.0.0.2');
    expect(secret.requests).toEqual([]);
    expect(dns.queries.size).toBe(0);
  });
});
