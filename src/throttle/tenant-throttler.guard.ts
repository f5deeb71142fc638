import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import type { Request } from 'express';
import type { Caller } from '../auth/auth.service';
import { TooManyRequestsException } from '../quotas/quotas.service';

/**
 * The rate limit counts requests per tenant (all its keys together), so it runs after the API
 * key guard; a route without a caller (health) is not limited. 429 with Retry-After.
 */
@Injectable()
export class TenantThrottlerGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<Request & { caller?: Caller }>();
    return !req.caller;
  }

  protected override async getTracker(req: Request & { caller?: Caller }): Promise<string> {
    return `tenant:${req.caller!.tenantId}`;
  }

  /** One window per tenant across every route (the default key is per route). */
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${tracker}`;
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const wait = Math.max(1, detail.timeToBlockExpire);
    throw new TooManyRequestsException(`rate limit: the tenant made more than ${detail.limit} requests in ${Math.round(detail.ttl / 1000)} s (KILN_RATE_LIMIT_PER_MINUTE); try again in ${wait} s`, wait);
  }
}
