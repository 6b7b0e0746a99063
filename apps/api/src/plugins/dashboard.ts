import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply } from 'fastify';
import consoleRoutes from '../console/console.ts';
import { isHttps, readSession, sameOrigin, sessionCookie } from './session.ts';

const boardPath = '/admin/queues';
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Where a sign-in may go on to: the console (any of its pages) or the queues. */
const consolePath = /^\/console(\/[A-Za-z0-9_\-/]*)?$/;
const nextOf = (raw: unknown): string => (typeof raw === 'string' && consolePath.test(raw) ? raw : `${boardPath}/`);

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}
textarea{width:100%;height:8rem;font-family:monospace}button{margin-top:1rem;padding:.5rem 1.5rem}
.error{color:#b00020}</style></head><body>${body}</body></html>`;

const loginPage = (error?: string, next = `${boardPath}/`) =>
  page(
    'Herald — sign in',
    `<h1>${next.startsWith('/console') ? 'Herald console' : 'Herald queues'}</h1>
<p>Sign in with an admin token (<code>pnpm token --role admin</code>${next.startsWith('/console') ? ', or a viewer token to look without changing anything' : ''}). It is exchanged for a short-lived cookie; the token itself is not kept.</p>
${error ? `<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/admin/login"><input type="hidden" name="next" value="${next}"><label for="token">Token</label>
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

  app.get('/admin/login', { schema: { hide: true } }, (request, reply) =>
    html(reply, 200, loginPage(undefined, nextOf((request.query as { next?: unknown }).next))),
  );

  app.post('/admin/login', { schema: { hide: true } }, async (request, reply) => {
    const body = (request.body as { token?: unknown; next?: unknown } | undefined) ?? {};
    const next = nextOf(body.next);
    if (!sameOrigin(app, request)) return html(reply, 403, loginPage('This sign-in did not come from this site.', next));
    const token = String(body.token ?? '').trim();
    let claims: { sub?: unknown; role?: unknown; tenant?: unknown } = {};
    try {
      claims = app.jwt.verify(token);
    } catch {
      return html(reply, 401, loginPage('That token is not valid (or has expired).', next));
    }
    // The console takes viewers (they look, they cannot change); the queues take admins only.
    const toConsole = next.startsWith('/console');
    if (!(claims.role === 'admin' || (claims.role === 'viewer' && toConsole))) {
      return html(
        reply,
        403,
        loginPage(toConsole ? 'Only admin and viewer tokens open the console.' : 'Only admin tokens open the queues.', next),
      );
    }
    // `dash` marks a session made here: a cookie holding a plain API token is not accepted.
    const sessionClaims = {
      sub: String(claims.sub),
      role: claims.role === 'admin' ? ('admin' as const) : ('viewer' as const),
      ...(typeof claims.tenant === 'string' ? { tenant: claims.tenant } : {}),
      dash: true,
    };
    const session = app.jwt.sign(sessionClaims, { expiresIn: ttl });
    // One session for the queues and the console (Path=/); the JSON API never reads cookies.
    reply.setCookie(sessionCookie, session, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: isHttps(app, request),
      maxAge: ttl,
    });
    return reply.code(303).header('location', next).send();
  });

  app.post('/admin/logout', { schema: { hide: true } }, async (request, reply) => {
    if (!sameOrigin(app, request)) return reply.code(403).send({ error: 'forbidden', message: 'cross-site request refused' });
    reply.clearCookie(sessionCookie, { path: '/' });
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
      const session = readSession(app, request);
      if (session && session.role !== 'admin') return reply.code(403).send({ error: 'forbidden', message: 'the queues are for admins' });
      if (!session) {
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

  // The console (issue 15) shares this sign-in, its cookie and its form parser.
  await app.register(consoleRoutes);
}
