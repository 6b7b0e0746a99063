import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { roles } from './auth.ts';

export const sessionCookie = 'herald_admin';
const boardPath = '/admin/queues';
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

const sessionSchema = z.object({ sub: z.string(), role: z.enum(roles), dash: z.literal(true) });

/** HTTPS as the browser sees it: behind a proxy, X-Forwarded-Proto; else PUBLIC_BASE_URL. */
function isHttps(app: FastifyInstance, request: FastifyRequest): boolean {
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
function sameOrigin(app: FastifyInstance, request: FastifyRequest): boolean {
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

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}
textarea{width:100%;height:8rem;font-family:monospace}button{margin-top:1rem;padding:.5rem 1.5rem}
.error{color:#b00020}</style></head><body>${body}</body></html>`;

const loginPage = (error?: string) =>
  page(
    'Herald — sign in',
    `<h1>Herald queues</h1>
<p>Sign in with an admin token (<code>pnpm token --role admin</code>). It is exchanged for a short-lived cookie; the token itself is not kept.</p>
${error ? `<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/admin/login"><label for="token">Admin token</label>
<textarea id="token" name="token" required autocomplete="off" spellcheck="false"></textarea>
<button type="submit">Sign in</button></form>`,
  );

/**
 * Bull Board at /admin/queues for admins, usable from a browser: /admin/login turns an admin
 * token into a short-lived session cookie (HttpOnly, SameSite=Strict, Path=/admin, Secure over
 * HTTPS) so no header has to be pasted anywhere. The board also takes an admin Bearer token
 * (scripts). Cookie-authenticated writes (retry, clean, pause…) must come from this origin.
 */
export default async function dashboard(app: FastifyInstance): Promise<void> {
  await app.register(fastifyCookie);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16_384 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const ttl = app.config.ADMIN_SESSION_TTL_S;
  const html = (reply: FastifyReply, code: number, body: string) =>
    reply.code(code).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(body);

  app.get('/admin/login', { schema: { hide: true } }, (_request, reply) => html(reply, 200, loginPage()));

  app.post('/admin/login', { schema: { hide: true } }, async (request, reply) => {
    if (!sameOrigin(app, request)) return html(reply, 403, loginPage('This sign-in did not come from this site.'));
    const token = String((request.body as { token?: unknown } | undefined)?.token ?? '').trim();
    let claims: { sub?: unknown; role?: unknown } = {};
    try {
      claims = app.jwt.verify(token);
    } catch {
      return html(reply, 401, loginPage('That token is not valid (or has expired).'));
    }
    if (claims.role !== 'admin') return html(reply, 403, loginPage('Only admin tokens open the queues.'));
    // `dash` marks a session made here: a cookie holding a plain API token is not accepted.
    const sessionClaims = { sub: String(claims.sub), role: 'admin' as const, dash: true };
    const session = app.jwt.sign(sessionClaims, { expiresIn: ttl });
    reply.setCookie(sessionCookie, session, {
      path: '/admin',
      httpOnly: true,
      sameSite: 'strict',
      secure: isHttps(app, request),
      maxAge: ttl,
    });
    return reply.code(303).header('location', `${boardPath}/`).send();
  });

  app.post('/admin/logout', { schema: { hide: true } }, async (request, reply) => {
    if (!sameOrigin(app, request)) return reply.code(403).send({ error: 'forbidden', message: 'cross-site request refused' });
    reply.clearCookie(sessionCookie, { path: '/admin' });
    return reply.code(303).header('location', '/admin/login').send();
  });

  await app.register(async (board) => {
    board.addHook('onRequest', async (request, reply) => {
      const bearer = request.headers.authorization;
      if (bearer) {
        // Scripts: an admin Bearer token, no cookie, so no cross-site question.
        try {
          const claims = (await request.jwtVerify()) as { role?: string };
          if (claims.role !== 'admin') return reply.code(403).send({ error: 'forbidden', message: 'admins only' });
          return;
        } catch {
          return reply.code(401).send({ error: 'unauthorized', message: 'a valid Bearer token is required' });
        }
      }
      const cookie = request.cookies[sessionCookie];
      let ok = false;
      if (cookie) {
        try {
          ok = sessionSchema.safeParse(app.jwt.verify(cookie)).success;
        } catch {
          ok = false;
        }
      }
      if (!ok) {
        const wantsPage = request.method === 'GET' && !request.url.startsWith(`${boardPath}/api/`);
        if (wantsPage) return reply.code(302).header('location', '/admin/login').send();
        return reply.code(401).send({ error: 'unauthorized', message: 'sign in at /admin/login' });
      }
      if (!safeMethods.has(request.method) && !sameOrigin(app, request)) {
        return reply.code(403).send({ error: 'forbidden', message: 'cross-site request refused' });
      }
    });

    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(boardPath);
    createBullBoard({
      queues: Object.values(app.queues).map((q) => new BullMQAdapter(q)),
      serverAdapter,
      options: { uiConfig: { boardTitle: 'Herald' } },
    });
    await board.register(serverAdapter.registerPlugin(), { prefix: boardPath });
  });
}
