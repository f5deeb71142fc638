import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

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
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) BLOCKED.addSubnet(net, prefix, 'ipv6');

/** Whether an IP address is one that webhooks may not reach (by default). */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family === 6) {
    // IPv4-mapped and IPv4-compatible forms (::ffff:10.0.0.1) are the IPv4 address in disguise.
    const mapped = /^(?:0{0,4}:){0,5}(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address) ?? /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
    if (mapped) {
      const v4 = mapped.length === 2 ? mapped[1] : [parseInt(mapped[1], 16) >> 8, parseInt(mapped[1], 16) & 255, parseInt(mapped[2], 16) >> 8, parseInt(mapped[2], 16) & 255].join('.');
      return BLOCKED.check(v4, 'ipv4');
    }
    return BLOCKED.check(address, 'ipv6');
  }
  return true; // not an address at all: refuse
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
