import { BlockList, isIP } from 'node:net';

/** Longest media URL accepted, in characters. */
export const maxMediaUrlLength = 2048;

// Addresses that are not on the public internet: a media link pointing at one would make the
// provider fetch from its own (or nobody's) network. Node's BlockList also matches IPv4-mapped
// IPv6 addresses (::ffff:127.0.0.1) against the IPv4 rules.
const privateAddresses = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata endpoints live here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  privateAddresses.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  privateAddresses.addSubnet(net, prefix, 'ipv6');
}

// Names reserved for local use (RFC 6761, 6762, 8375) and the de-facto `.internal`.
const localSuffixes = ['.localhost', '.local', '.internal', '.home.arpa', '.localdomain'];

/**
 * Why `value` cannot be a media link, or undefined when it can: an https URL of at most 2,048
 * characters, without credentials, whose host is a public name or address. Names are not
 * resolved: Herald never fetches the link (the provider does), so only its form is checked. There
 * is no allowance for tests: the simulator does not fetch media either, so tests use public-looking
 * links such as https://cdn.example.com/….
 */
export function mediaUrlProblem(value: string): string | undefined {
  if (value.length > maxMediaUrlLength) return `must be at most ${maxMediaUrlLength} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an https URL';
  }
  if (url.protocol !== 'https:') return 'must be an https URL';
  if (url.username || url.password) return 'must not carry credentials';
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const family = isIP(host);
  if (family !== 0) {
    return privateAddresses.check(host, family === 6 ? 'ipv6' : 'ipv4')
      ? 'must not point at a private, loopback or link-local address'
      : undefined;
  }
  const name = host.replace(/\.$/, '');
  if (name === 'localhost' || localSuffixes.some((s) => name.endsWith(s))) return 'must not point at a local host name';
  if (!name.includes('.')) return 'must have a public host name';
  return undefined;
}
