import fastifyJwt from '@fastify/jwt';
import { HeraldError } from '@herald/shared';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { JwtKeyError, JwtKeyRing } from './jwt-keys.ts';

export const roles = ['admin', 'service', 'viewer'] as const;
export type Role = (typeof roles)[number];

const claims = z.object({
  sub: z.string().min(1),
  role: z.enum(roles),
  tenant: z.string().min(1).max(64).optional(),
  exp: z.number(),
});

export interface Principal {
  sub: string;
  role: Role;
  /** The tenant the caller acts as: its claim, else `default`. */
  tenant: string;
  /** An admin without a tenant claim sees every tenant. */
  allTenants: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: 401 without a valid token, 403 without one of `allowed`. */
    authorize(allowed: readonly Role[]): (request: FastifyRequest) => Promise<void>;
  }
  interface FastifyInstance {
    /** The verification keys (by kid) and the current signing key. */
    jwtKeys: JwtKeyRing;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; role: Role; tenant?: string };
  }
}

/** Shorthands for route definitions ("viewer+" in SPEC 2). */
export const anyRole = roles;
export const writers = ['service', 'admin'] as const satisfies readonly Role[];
export const adminOnly = ['admin'] as const satisfies readonly Role[];

/**
 * Bearer JWTs, verified by the key ring (jwt-keys.ts): key chosen by `kid`, algorithm pinned per
 * key, `exp` required, bounded clock skew, iss/aud when configured. @fastify/jwt stays registered
 * with the current signing key for code that signs (`app.jwt.sign`).
 */
export default fp(
  async (app) => {
    const ring = new JwtKeyRing(app.config);
    app.decorate('jwtKeys', ring);
    await app.register(fastifyJwt, {
      secret: ring.signing.secret,
      sign: { algorithm: 'HS256', ...(ring.signing.kid ? { kid: ring.signing.kid } : {}) },
      verify: { algorithms: ['HS256'], requiredClaims: ['exp'] },
    });
    app.decorateRequest('principal', null as unknown as Principal);
    app.decorate('authorize', (allowed: readonly Role[]) => async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (!match) throw new HeraldError('unauthorized', 'a valid Bearer token is required');
      let payload: unknown;
      try {
        payload = ring.verify(match[1] as string);
      } catch (err) {
        throw new HeraldError('unauthorized', err instanceof JwtKeyError ? err.message : 'a valid Bearer token is required');
      }
      const parsed = claims.safeParse(payload);
      if (!parsed.success) throw new HeraldError('unauthorized', 'token claims are invalid (sub, role, exp required)');
      const { sub, role, tenant } = parsed.data;
      if (!allowed.includes(role)) throw new HeraldError('forbidden', `role ${role} may not do this`);
      request.principal = { sub, role, tenant: tenant ?? 'default', allTenants: role === 'admin' && tenant === undefined };
    });
  },
  { name: 'auth', dependencies: ['config'] },
);
