import type { ServerResponse } from 'node:http';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

type Directives = Record<string, string[] | null>;

/**
 * The Content-Security-Policy of every response. Swagger UI (/docs) loads only its own scripts
 * and styles from /docs/static, plus inline styles and data: images, so this is enough for it.
 * `upgrade-insecure-requests` is off: on a plain-HTTP local run it would break /docs.
 */
export const cspDirectives: Directives = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  connectSrc: ["'self'"],
  upgradeInsecureRequests: null,
};

/**
 * Where a page needs more than `cspDirectives`, by URL prefix: the directives given here replace
 * the defaults for routes under the prefix (registered after this plugin). THIS is the place to
 * adjust for a dashboard: Bull Board (/admin/queues) bootstraps with a small inline script and
 * inline styles, so its prefix allows 'unsafe-inline' scripts — on its own pages only.
 */
export const cspByPrefix: Record<string, Directives> = {
  '/admin/queues': {
    scriptSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'data:', 'blob:'],
  },
};

const baseOptions: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: cspDirectives },
  frameguard: { action: 'deny' },
  // same-origin, not no-referrer: under no-referrer a browser's form POST carries `Origin: null`,
  // which the dashboard's cross-site check must refuse; other sites still get no referrer.
  referrerPolicy: { policy: 'same-origin' },
  hsts: { maxAge: 31_536_000, includeSubDomains: true },
};

/**
 * The headers helmet sets for `options`, worked out once. Helmet's headers depend on its options
 * only, never on the request, but @fastify/helmet builds a new helmet middleware (parsing every
 * CSP directive) on each request — 8 % of the API's CPU under load. Here helmet runs once against
 * a recording response, and each request gets the recorded headers (helmetjs/helmet#430).
 */
export function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader: () => undefined,
  } as unknown as ServerResponse;
  let failure: unknown;
  helmet(options)({} as never, recorder, (err?: unknown) => {
    failure = err;
  });
  if (failure) throw failure;
  return headers;
}

/**
 * Security headers (helmet) on every response, /docs included: CSP, nosniff, frame-ancestors none
 * / X-Frame-Options DENY, Referrer-Policy same-origin, HSTS (honoured by browsers over HTTPS
 * only), Cross-Origin-Opener/Resource-Policy same-origin. Routes under a `cspByPrefix` prefix get
 * their own CSP.
 */
export default fp(
  async (app) => {
    const common = helmetHeaders(baseOptions);
    const byPrefix = Object.entries(cspByPrefix).map(
      ([prefix, directives]) =>
        [
          prefix,
          helmetHeaders({ ...baseOptions, contentSecurityPolicy: { useDefaults: false, directives: { ...cspDirectives, ...directives } } }),
        ] as const,
    );
    const headersFor = (url: string) => byPrefix.find(([p]) => url === p || url.startsWith(`${p}/`))?.[1] ?? common;
    app.addHook('onRequest', (request, reply, done) => {
      reply.headers(headersFor(request.routeOptions.url ?? request.url));
      done();
    });
  },
  { name: 'security-headers' },
);
