import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Kiln-Signature';

/** A new signing secret: 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** The hex HMAC-SHA256 of "<t>.<body>" under the secret. */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

/** The Kiln-Signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. */
export function signatureHeader(secret: string, body: string, now: Date = new Date()): string {
  const t = Math.floor(now.getTime() / 1000);
  return `t=${t},v1=${signatureOf(secret, t, body)}`;
}

/**
 * What a receiver does (README, "Webhooks"): recompute the HMAC over the raw body and compare in
 * constant time, and refuse a timestamp outside the tolerance, so a captured request cannot be
 * replayed later. Returns why it fails, or null when the signature is good.
 */
export function verifySignature(secret: string, header: string | undefined, body: string, toleranceSeconds = 300, now: Date = new Date()): string | null {
  if (!header) return 'no Kiln-Signature header';
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  const candidates = parts.filter(([k]) => k === 'v1').map(([, v]) => v ?? '');
  if (!Number.isInteger(t) || candidates.length === 0) return 'malformed Kiln-Signature header';
  if (Math.abs(Math.floor(now.getTime() / 1000) - t) > toleranceSeconds) return 'timestamp outside the tolerance';
  const expected = Buffer.from(signatureOf(secret, t, body), 'hex');
  const ok = candidates.some((c) => {
    const given = Buffer.from(c, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return ok ? null : 'signature does not match';
}
