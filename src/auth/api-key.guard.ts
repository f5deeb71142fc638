import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AuthFailureLimiter } from '../throttle/auth-failures';
import { IS_PUBLIC } from './auth.decorators';
import { AuthService, Caller } from './auth.service';
import { defaultScopeFor, REQUIRED_SCOPE, Scope } from './scopes';

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    private readonly failures: AuthFailureLimiter,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [ctx.getHandler(), ctx.getClass()])) return true;
    const req = ctx.switchToHttp().getRequest<Request & { caller?: Caller }>();
    // An address that sent too many requests without a valid key is refused before its key is
    // looked at, so a right guess cannot be told from a wrong one.
    await this.failures.check(req.ip);
    const refuse = async (message: string): Promise<never> => {
      await this.failures.failed(req.ip);
      throw new UnauthorizedException(message);
    };
    const header = req.headers.authorization;
    if (!header) return refuse('missing Authorization header: send "Authorization: Bearer <api key>"');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return refuse('the Authorization header must be "Bearer <api key>"');
    const caller = await this.auth.authenticate(m[1]);
    if (!caller) return refuse('the API key is not valid (unknown or revoked)');
    req.caller = caller;
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, [ctx.getHandler(), ctx.getClass()]) ?? defaultScopeFor(req.method);
    if (!caller.scopes.includes(scope)) {
      throw new ForbiddenException(`this API key lacks the "${scope}" scope that ${req.method} ${req.baseUrl}${req.route?.path ?? req.path} needs; its scopes: ${caller.scopes.join(', ')}`);
    }
    return true;
  }
}
