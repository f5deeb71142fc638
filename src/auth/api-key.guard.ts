import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { IS_PUBLIC } from './auth.decorators';
import { AuthService, Caller } from './auth.service';
import { defaultScopeFor, REQUIRED_SCOPE, Scope } from './scopes';

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [ctx.getHandler(), ctx.getClass()])) return true;
    const req = ctx.switchToHttp().getRequest<Request & { caller?: Caller }>();
    const header = req.headers.authorization;
    if (!header) throw new UnauthorizedException('missing Authorization header: send "Authorization: Bearer <api key>"');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new UnauthorizedException('the Authorization header must be "Bearer <api key>"');
    const caller = await this.auth.authenticate(m[1]);
    if (!caller) throw new UnauthorizedException('the API key is not valid (unknown or revoked)');
    req.caller = caller;
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, [ctx.getHandler(), ctx.getClass()]) ?? defaultScopeFor(req.method);
    if (!caller.scopes.includes(scope)) {
      throw new ForbiddenException(`this API key lacks the "${scope}" scope that ${req.method} ${req.baseUrl}${req.route?.path ?? req.path} needs; its scopes: ${caller.scopes.join(', ')}`);
    }
    return true;
  }
}
