import { BlockList, isIP } from 'node:net';
import { ToolMuxError, type ToolMuxErrorCode } from '@toolmux/core';
import { shownValue } from '@toolmux/core/internal';
import ipaddr from 'ipaddr.js';

/**
 * The addresses and CIDR ranges of an option (`metrics.allowFrom`, `connections.unlimited`), as a
 * list to check client addresses against; an entry that is neither is refused with `code`, naming
 * it by its path in the config as a refused value is named (`connections.unlimited[1]`).
 */
export function addressListOf(entries: readonly string[], option: string, code: ToolMuxErrorCode): BlockList {
  const list = new BlockList();
  for (const [index, entry] of entries.entries()) {
    const [address = '', prefixText] = entry.split('/');
    const family = isIP(address);
    const prefix = prefixText === undefined ? undefined : Number(prefixText);
    const maxPrefix = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      (prefix !== undefined && (!Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix))
    ) {
      throw new ToolMuxError({
        code,
        message: `${option}[${index}]: ${shownValue(entry)} is not an IP address or CIDR range; write e.g. "10.0.0.5" or "10.0.0.0/8".`,
      });
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return list;
}

/**
 * A socket's remote address, an IPv4 client of a dual-stack socket (`::ffff:a.b.c.d`) as IPv4;
 * undefined when it is no address.
 */
function remoteAddressOf(remoteAddress: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  try {
    return ipaddr.process(remoteAddress);
  } catch {
    return undefined;
  }
}

/** Whether `list` holds a socket's remote address. */
export function listed(list: BlockList, remoteAddress: string): boolean {
  const address = remoteAddressOf(remoteAddress);
  return address !== undefined && list.check(address.toString(), address.kind());
}

/**
 * The client a socket's remote address counts as: an IPv4 address (also one a dual-stack socket
 * writes as `::ffff:a.b.c.d`), or an IPv6 address's /64 network, which one host is given at least
 * and may send from any address of (counting addresses would give it 2^64 shares).
 */
export function clientOf(remoteAddress: string): string {
  const parsed = remoteAddressOf(remoteAddress);
  if (parsed === undefined) return remoteAddress;
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const network = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...network, 0, 0, 0, 0]).toString()}/64`;
}
