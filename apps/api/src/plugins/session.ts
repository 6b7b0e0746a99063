import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { roles } from './auth.ts';

// The browser session of the queue dashboard and the console: one sign-in (/admin/login), one
// cookie, and the same-origin check every cookie-authenticated change must pass.

export const sessionCookie = 'herald_admin';

const sessionSchema = z.object({ sub: z.string(), role: z.enum(roles), tenant: z.string().optional(), dash: z.literal(true) });
export type Session = z.infer<typeof sessionSchema>;

/** The signed-in session of a browser request (the cookie /admin/login set), or null. */
export function readSession(app: FastifyInstance, request: FastifyRequest): Session | null {
  const cookie = request.cookies[sessionCookie];
  if (!cookie) return null;
  try {
    const parsed = sessionSchema.safeParse(app.jwt.verify(cookie));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** HTTPS as the browser sees it: behind a proxy, X-Forwarded-Proto; else PUBLIC_BASE_URL. */
export function isHttps(app: FastifyInstance, request: FastifyRequest): boolean {
  const forwarded = String(request.headers['x-forwarded-proto'] ?? '')
    .split(',')[0]
    ?.trim()
    .toLowerCase();
  if (forwarded) return forwarded === 'https';
  return request.protocol === 'https' || app.config.PUBLIC_BASE_URL.startsWith('https:');
}

/**
 * The origins a browser page of this deployment has: PUBLIC_BASE_URL's, and the one the request
 * itself was addressed to (Host / X-Forwarded-Host, with the scheme it came in on).
 */
function ownOrigins(app: FastifyInstance, request: FastifyRequest): Set<string> {
  const origins = new Set<string>([new URL(app.config.PUBLIC_BASE_URL).origin]);
  const host = String(request.headers['x-forwarded-host'] ?? request.headers.host ?? '')
    .split(',')[0]
    ?.trim();
  if (host) origins.add(`${isHttps(app, request) ? 'https' : 'http'}://${host}`);
  return origins;
}

/**
 * Cross-site protection for cookie-authenticated writes: besides SameSite=Strict on the cookie, a
 * state-changing request must name this deployment as its Origin (or, lacking one, Referer).
 * Browsers send Origin on every cross-origin request and on same-origin POST/PUT/DELETE.
 */
export function sameOrigin(app: FastifyInstance, request: FastifyRequest): boolean {
  const origin = request.headers.origin ?? (request.headers.referer ? safeOrigin(request.headers.referer) : undefined);
  if (!origin || origin === 'null') return false;
  return ownOrigins(app, request).has(origin);
}

const safeOrigin = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
};
