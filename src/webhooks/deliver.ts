import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { guardedLookup, isPrivateAddress } from './callback-url';
import { SIGNATURE_HEADER, signatureHeader } from './signature';

export interface DeliveryRequest {
  url: string;
  eventId: string;
  event: string;
  body: string;
  secret: string;
  timeoutMs: number;
  allowPrivate: boolean;
}

export interface DeliveryResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs one signed webhook. Redirects are not followed (a 3xx is a failure), the answer's body is
 * read only up to a cap and thrown away, and the whole exchange has a deadline. Never throws.
 */
export function deliverWebhook(req: DeliveryRequest): Promise<DeliveryResult> {
  const started = Date.now();
  const u = new URL(req.url);
  // An address written in the URL is never looked up, so the guarded lookup cannot check it.
  const literal = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!req.allowPrivate && isIP(literal) && isPrivateAddress(literal)) {
    return Promise.resolve({ ok: false, statusCode: null, error: `${literal} is a private or reserved address, which webhooks may not reach`, durationMs: 0 });
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (statusCode: number | null, error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const ok = error === null && statusCode !== null && statusCode >= 200 && statusCode < 300;
      resolve({ ok, statusCode, error: error ?? (ok ? null : `the receiver answered ${statusCode}`), durationMs: Date.now() - started });
    };
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const r = send(
      u,
      {
        method: 'POST',
        lookup: guardedLookup(req.allowPrivate) as never,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(req.body),
          'User-Agent': 'Kiln-Webhooks/1',
          'Kiln-Event': req.event,
          'Kiln-Delivery': req.eventId,
          [SIGNATURE_HEADER]: signatureHeader(req.secret, req.body),
        },
      },
      (res) => {
        let seen = 0;
        res.on('data', (c: Buffer) => {
          seen += c.length;
          if (seen > MAX_RESPONSE_BYTES) res.destroy();
        });
        res.on('end', () => finish(res.statusCode ?? null, null));
        res.on('close', () => finish(res.statusCode ?? null, null));
        res.on('error', () => finish(res.statusCode ?? null, null));
      },
    );
    const timer = setTimeout(() => {
      finish(null, `no answer within ${req.timeoutMs} ms`);
      r.destroy();
    }, req.timeoutMs);
    r.on('error', (e: NodeJS.ErrnoException) => finish(null, e.code === 'EKILNBLOCKED' ? e.message : `${e.code ?? 'error'}: ${e.message}`));
    r.end(req.body);
  });
}
