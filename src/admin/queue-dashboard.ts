import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { AuthService, DEFAULT_TENANT } from '../auth/auth.service';
import { errorBody } from '../common/exception.filter';
import { TooManyRequestsException } from '../quotas/quotas.service';
import { AuthFailureLimiter } from '../throttle/auth-failures';
import { EnqueueService } from '../queue/enqueue.service';
import { POOLS } from '../targets/catalog';

export const DASHBOARD_PATH = '/admin/queues';

/** The API key from a Bearer header, or from HTTP Basic (any user name), which a browser can send. */
function keyOf(req: Request): string | null {
  const h = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(.+)$/i.exec(h);
  if (bearer) return bearer[1].trim();
  const basic = /^Basic\s+(.+)$/i.exec(h);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1) || null;
  }
  return null;
}

/**
 * The queue dashboard (bull-board) at /admin/queues, for the operator: it shows every tenant's
 * queued builds, so it needs an API key of the operator's tenant (the bootstrap key's) with the
 * admin scope. A browser asks for it with HTTP Basic: any user name, the key as password.
 */
export function mountQueueDashboard(app: NestExpressApplication): void {
  let auth: AuthService;
  let queues: EnqueueService;
  let failures: AuthFailureLimiter;
  try {
    auth = app.get(AuthService);
    queues = app.get(EnqueueService);
    failures = app.get(AuthFailureLimiter);
  } catch {
    return; // the spec script builds the app without services
  }
  const adapter = new ExpressAdapter();
  adapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({ queues: POOLS.map((p) => new BullMQAdapter(queues.queue(p))), serverAdapter: adapter, options: { uiConfig: { boardTitle: 'Kiln queues' } } });
  const logger = new Logger('QueueDashboard');
  const guard = async (req: Request, res: Response, next: NextFunction) => {
    const deny = (status: number, message: string) => {
      if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="Kiln queues", charset="UTF-8"');
      res.status(status).json({ statusCode: status, message });
    };
    try {
      // Guessing keys here is limited like on the API (KILN_AUTH_FAILURES_PER_MINUTE).
      await failures.check(req.ip);
      const key = keyOf(req);
      if (!key) {
        await failures.failed(req.ip);
        return deny(401, 'the queue dashboard needs an admin API key of the operator tenant (Bearer, or Basic with the key as password)');
      }
      const caller = await auth.authenticate(key);
      if (!caller) {
        await failures.failed(req.ip);
        return deny(401, 'this API key is not valid');
      }
      if (!caller.scopes.includes('admin') || caller.tenantName !== DEFAULT_TENANT) return deny(403, 'the queue dashboard shows every tenant\'s builds: it needs an admin key of the operator tenant');
      next();
    } catch (e) {
      if (e instanceof TooManyRequestsException) {
        res.setHeader('Retry-After', String(e.retryAfterSeconds));
        return deny(429, e.message);
      }
      logger.warn(`cannot check a dashboard key: ${(e as Error).message}`);
      res.setHeader('Retry-After', '5');
      res.status(503).json(errorBody(503, 'a service Kiln depends on is unavailable; try again shortly', String(res.getHeader('X-Request-Id') ?? '') || undefined));
    }
  };
  app.use(DASHBOARD_PATH, guard, adapter.getRouter());
}
