import { SetMetadata } from '@nestjs/common';

/**
 * What an API key may do. read: every GET; build: create, cancel and delete jobs and uploads;
 * admin: manage keys and the webhook signing secret. A route needs exactly one of them.
 */
export const SCOPES = ['read', 'build', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const DEFAULT_KEY_SCOPES: Scope[] = ['read', 'build'];
export const ALL_SCOPES: Scope[] = [...SCOPES];

export const REQUIRED_SCOPE = 'kiln:scope';
/** The scope a route needs when its HTTP method alone does not say (GET: read; anything else: build). */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);

export function defaultScopeFor(method: string): Scope {
  return method === 'GET' || method === 'HEAD' ? 'read' : 'build';
}
