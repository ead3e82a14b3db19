import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Where an event may be POSTed, by address. A caller's callbackUrl names a host from
 * CALLBACK_ALLOWED_HOSTS, but DNS decides where that host is, and DNS can change after the check
 * (rebinding): so the address is checked when the connection is made, every time. Loopback,
 * private, link-local (169.254.169.254 is the instance metadata endpoint), shared, multicast and
 * reserved addresses are internal: the app's own network, never a receiver's.
 */

const internal = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  internal.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
] as const)
  internal.addSubnet(network, prefix, 'ipv6');

/** Whether an IP address belongs to an internal network (an IPv4 address inside IPv6 counts as itself). */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return internal.check(address, 'ipv4');
  if (family !== 6) return true; // not an address: nothing we would connect to
  const embedded = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (embedded) return isInternalAddress(embedded);
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex) {
    const value = (parseInt(hex[1]!, 16) << 16) | parseInt(hex[2]!, 16);
    return isInternalAddress([24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.'));
  }
  return internal.check(address, 'ipv6');
}

export class InternalAddressError extends Error {
  override readonly name = 'InternalAddressError';
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for node:https that refuses a host resolving to any internal address: the check and
 * the connection use the same answer, so no second resolution can point elsewhere.
 */
export function externalOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const inside = addresses.find(({ address }) => isInternalAddress(address));
    if (inside) return callback(new InternalAddressError(`${hostname} resolves to an internal address (${inside.address})`), []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(new InternalAddressError(`${hostname} has no address`), []);
    callback(null, first.address, first.family);
  });
}
