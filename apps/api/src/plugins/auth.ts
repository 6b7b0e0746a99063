import fastifyJwt from '@fastify/jwt';
import { HeraldError } from '@herald/shared';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';

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
 * Bearer JWTs: HS256 pinned (a token signed with another algorithm, or `none`, is refused) and
 * `exp` required.
 */
export default fp(
  async (app) => {
    const secret = app.config.JWT_SECRET;
    if (!secret) throw new Error('JWT_SECRET is required');
    await app.register(fastifyJwt, {
      secret,
      sign: { algorithm: 'HS256' },
      verify: {
        algorithms: ['HS256'],
        requiredClaims: ['exp'],
        ...(app.config.JWT_ISSUER ? { allowedIss: app.config.JWT_ISSUER } : {}),
        ...(app.config.JWT_AUDIENCE ? { allowedAud: app.config.JWT_AUDIENCE } : {}),
      },
    });
    app.decorateRequest('principal', null as unknown as Principal);
    app.decorate('authorize', (allowed: readonly Role[]) => async (request: FastifyRequest) => {
      let payload: unknown;
      try {
        payload = await request.jwtVerify();
      } catch (err) {
        const expired = (err as { code?: string }).code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED';
        throw new HeraldError('unauthorized', expired ? 'token expired' : 'a valid Bearer token is required');
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
