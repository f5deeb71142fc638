import { CanActivate, ExecutionContext, Injectable, UnsupportedMediaTypeException } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import type { IncomingHttpHeaders } from 'node:http';

/** Whether a handler reads its request body as JSON (has a `@Body()` parameter). */
export function takesJsonBody(controller: object, handler: string | symbol): boolean {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler) ?? {}) as Record<string, unknown>;
  return Object.keys(args).some((key) => key.split(':')[0] === String(RouteParamtypes.BODY));
}

/** Whether a request carries a body at all (as body-parser decides it: a length other than 0, or chunks). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length.trim() !== '0';
}

/** The media type the JSON body parser reads; any other leaves the body unread. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0].trim().toLowerCase() === 'application/json';
}

/**
 * Only `application/json` bodies are parsed: any other body sent to an endpoint that takes JSON
 * would reach the handler as `{}` and be refused for what it seemed to lack (curl -d sends
 * form-urlencoded, fetch with a string sends text/plain). Say what is wrong instead. Endpoints
 * that read the raw body (uploads) have no `@Body()` and are left alone, and so are requests
 * without a body. A guard registered after the API key's, so a request without a valid key is
 * still a 401 (and not an interceptor: with any global interceptor, an event stream's handler runs
 * after its 200 and headers are sent, so its 404 could not be one).
 */
@Injectable()
export class JsonBodyGuard implements CanActivate {
  private readonly takesJson = new WeakMap<object, boolean>();

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() === 'http') {
      const handler = context.getHandler();
      let json = this.takesJson.get(handler);
      if (json === undefined) {
        json = takesJsonBody(context.getClass(), handler.name);
        this.takesJson.set(handler, json);
      }
      const headers = context.switchToHttp().getRequest<{ headers: IncomingHttpHeaders }>().headers;
      if (json && hasBody(headers) && !isJsonMediaType(headers['content-type'])) {
        const sent = headers['content-type'] ? `it was sent as ${headers['content-type'].split(';')[0].trim()}` : 'it was sent without a Content-Type';
        throw new UnsupportedMediaTypeException(`send the request body as JSON with Content-Type: application/json (${sent})`);
      }
    }
    return true;
  }
}
