import fastifyHelmet from '@fastify/helmet';
import fp from 'fastify-plugin';

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

/**
 * Security headers (@fastify/helmet) on every response, /docs included: CSP, nosniff,
 * frame-ancestors none / X-Frame-Options DENY, Referrer-Policy same-origin, HSTS (honoured by
 * browsers over HTTPS only), Cross-Origin-Opener/Resource-Policy same-origin.
 */
export default fp(
  async (app) => {
    // Runs before helmet's own onRoute hook (registered below), so helmet sees the route option.
    app.addHook('onRoute', (route) => {
      if (route.helmet !== undefined) return;
      const prefix = Object.keys(cspByPrefix).find((p) => route.url === p || route.url.startsWith(`${p}/`));
      if (prefix) route.helmet = { contentSecurityPolicy: { directives: { ...cspDirectives, ...cspByPrefix[prefix] } } };
    });
    await app.register(fastifyHelmet, {
      global: true,
      contentSecurityPolicy: { useDefaults: false, directives: cspDirectives },
      frameguard: { action: 'deny' },
      // same-origin, not no-referrer: under no-referrer a browser's form POST carries `Origin: null`,
      // which the dashboard's cross-site check must refuse; other sites still get no referrer.
      referrerPolicy: { policy: 'same-origin' },
      hsts: { maxAge: 31_536_000, includeSubDomains: true },
    });
  },
  { name: 'security-headers' },
);
