import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Caller } from './auth.service';

export const IS_PUBLIC = 'kiln:public';
/** Marks a route that needs no API key (health checks, docs). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** The authenticated caller of a request: its tenant and key. */
export const CurrentCaller = createParamDecorator((_: unknown, ctx: ExecutionContext): Caller => {
  const req = ctx.switchToHttp().getRequest<{ caller?: Caller }>();
  if (!req.caller) throw new Error('CurrentCaller used on a route without authentication');
  return req.caller;
});
