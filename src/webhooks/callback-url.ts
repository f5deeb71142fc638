import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Addresses a webhook may not be sent to unless KILN_WEBHOOK_ALLOW_PRIVATE is set: loopback,
 * private and shared networks, link-local (which holds the cloud metadata service), multicast
 * and reserved ranges. Otherwise a callback URL would let a client make Kiln probe its own network.
 */
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) BLOCKED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['5f00::', 16], ['3fff::', 20],
] as const) BLOCKED.addSubnet(net, prefix, 'ipv6');

/** An IPv4 address that webhooks may not reach: one of the ranges above, or any that is not plain unicast. */
function isPrivateIPv4(a: ipaddr.IPv4): boolean {
  return BLOCKED.check(a.toString(), 'ipv4') || a.range() !== 'unicast';
}

function ipv4Of(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

/**
 * The IPv4 addresses an IPv6 address carries, in the forms that reach them: IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), 6to4
 * (2002:aabb:ccdd::/48), NAT64 (64:ff9b::a.b.c.d) and Teredo (2001:0::/32, its server and its
 * client, the latter stored inverted). `whole`: the form is the IPv4 address and nothing else,
 * so the IPv4 address alone decides.
 */
export function embeddedIPv4(a: ipaddr.IPv6): { addresses: ipaddr.IPv4[]; whole: boolean } {
  const p = a.parts;
  const zero = (from: number, to: number) => p.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && (p[5] === 0xffff || p[5] === 0)) return { addresses: [ipv4Of(p[6], p[7])], whole: true };
  if (zero(0, 4) && p[4] === 0xffff && p[5] === 0) return { addresses: [ipv4Of(p[6], p[7])], whole: true };
  if (p[0] === 0x2002) return { addresses: [ipv4Of(p[1], p[2])], whole: true };
  if (p[0] === 0x64 && p[1] === 0xff9b) return { addresses: [ipv4Of(p[6], p[7])], whole: false };
  if (p[0] === 0x2001 && p[1] === 0) return { addresses: [ipv4Of(p[2], p[3]), ipv4Of(p[6] ^ 0xffff, p[7] ^ 0xffff)], whole: false };
  return { addresses: [], whole: false };
}

/**
 * Whether an IP address is one that webhooks may not reach (by default). An IPv6 address that
 * carries an IPv4 one (::ffff:127.0.0.1, ::127.0.0.1, ::ffff:0:127.0.0.1, 2002:7f00:1::1) is
 * judged by the IPv4 address, since that is where it leads; anything that does not parse is refused.
 */
export function isPrivateAddress(address: string): boolean {
  if (!isIP(address)) return true; // not an address at all: refuse
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return true;
  }
  if (parsed.kind() === 'ipv4') return isPrivateIPv4(parsed as ipaddr.IPv4);
  const v6 = parsed as ipaddr.IPv6;
  const embedded = embeddedIPv4(v6);
  if (embedded.addresses.some(isPrivateIPv4)) return true;
  if (embedded.whole) return false;
  return BLOCKED.check(v6.toNormalizedString(), 'ipv6') || v6.range() !== 'unicast';
}

export class CallbackUrlError extends Error {}

export const MAX_CALLBACK_URL_LENGTH = 2048;

/** Checks a callback URL's form (not where it points); returns the URL object. */
export function parseCallbackUrl(raw: string): URL {
  if (raw.length > MAX_CALLBACK_URL_LENGTH) throw new CallbackUrlError(`callbackUrl is longer than ${MAX_CALLBACK_URL_LENGTH} characters`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CallbackUrlError(`callbackUrl "${raw}" is not a valid URL; give an absolute http or https URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CallbackUrlError(`callbackUrl must use http or https, not ${u.protocol.replace(/:$/, '')}`);
  if (u.username || u.password) throw new CallbackUrlError('callbackUrl must not carry a user name or password; webhooks are signed (Kiln-Signature) instead');
  if (u.hash) throw new CallbackUrlError('callbackUrl must not have a #fragment');
  if (!u.hostname) throw new CallbackUrlError('callbackUrl has no host');
  return u;
}

type Lookup = (hostname: string) => Promise<LookupAddress[]>;

const systemLookup: Lookup = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/** The bare host of a URL: IPv6 literals come without their brackets. */
function hostOf(u: URL): string {
  return u.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Checks a callback URL when a job is created: its form, and that every address its host
 * resolves to may be reached. (The addresses are checked again on every delivery, since DNS
 * answers change.) Returns the URL as it will be stored.
 */
export async function checkCallbackUrl(raw: string, allowPrivate: boolean, lookup: Lookup = systemLookup): Promise<string> {
  const u = parseCallbackUrl(raw);
  if (allowPrivate) return u.toString();
  const host = hostOf(u);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host)).map((a) => a.address);
    } catch (e) {
      throw new CallbackUrlError(`callbackUrl host "${host}" does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  const bad = addresses.find(isPrivateAddress);
  if (bad) throw new CallbackUrlError(`callbackUrl host "${host}" ${bad === host ? 'is a' : `resolves to ${bad}, a`} loopback, private, link-local or reserved address, which webhooks may not reach`);
  return u.toString();
}

/**
 * A `lookup` for http.request that refuses private addresses at connection time, so a host
 * that resolved to a public address when the job was created cannot be switched to an internal
 * one later (DNS rebinding).
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: object, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses as LookupAddress[];
      const bad = allowPrivate ? undefined : list.find((a) => isPrivateAddress(a.address));
      if (bad) {
        const e: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${bad.address}, a private or reserved address, which webhooks may not reach`);
        e.code = 'EKILNBLOCKED';
        return callback(e, '');
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
}
