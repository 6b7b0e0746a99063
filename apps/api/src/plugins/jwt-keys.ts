import type { Config } from '@herald/shared';
import { createDecoder, createSigner, createVerifier } from 'fast-jwt';

/** One verification key: its `kid` (null for JWT_SECRET, used by tokens without a kid) and algorithm. */
interface Key {
  kid: string | null;
  algorithm: 'HS256' | 'RS256';
  key: string;
}

export class JwtKeyError extends Error {
  readonly expired: boolean;
  constructor(message: string, expired = false) {
    super(message);
    this.name = 'JwtKeyError';
    this.expired = expired;
  }
}

/** `kid1:secret1,kid2:secret2` → keys, in order (the first signs). Secrets may contain `:`. */
export function parseJwtKeys(value: string | undefined): { kid: string; secret: string }[] {
  if (!value) return [];
  return value
    .split(',')
    .map((pair) => pair.trim())
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf(':');
      const kid = pair.slice(0, at);
      const secret = pair.slice(at + 1);
      if (at <= 0 || secret.length < 32)
        throw new Error(`JWT_KEYS: each entry is kid:secret with a secret of at least 32 characters (entry ${kid || '?'})`);
      return { kid, secret };
    });
}

const decode = createDecoder({ complete: true });

/** How many verified tokens are remembered (a few hundred bytes each). */
const maxVerifiedTokens = 10_000;

/**
 * The API's token keys: every key that may verify at once, chosen by the token's `kid`, each
 * pinned to one algorithm (HS256 for secrets, RS256 for JWT_PUBLIC_KEY under kid `rs256`), so an
 * HS256 token can never be checked against the public key as an HMAC secret, and `none` never
 * matches. `exp` is required; clock skew is bounded by JWT_CLOCK_SKEW_MS; `iss`/`aud` are checked
 * when configured. Signing (pnpm token, tests) uses the first JWT_KEYS entry, else JWT_SECRET.
 */
export class JwtKeyRing {
  readonly #keys = new Map<string, Key>();
  readonly #verifiers = new Map<string, ReturnType<typeof createVerifier>>();
  readonly #signing: { kid: string | null; secret: string };
  /**
   * Tokens verified lately → their payload, used until the token's `exp`. A caller sends one token
   * with many requests and each request is verified twice (the rate limiter keys on the subject,
   * the route authorises): this skips decoding and checking the same bytes again. Bounded.
   */
  readonly #verified = new Map<string, { payload: unknown; untilMs: number }>();

  constructor(config: Config) {
    if (config.JWT_SECRET) this.#keys.set('', { kid: null, algorithm: 'HS256', key: config.JWT_SECRET });
    for (const { kid, secret } of parseJwtKeys(config.JWT_KEYS)) this.#keys.set(kid, { kid, algorithm: 'HS256', key: secret });
    if (config.JWT_PUBLIC_KEY) this.#keys.set('rs256', { kid: 'rs256', algorithm: 'RS256', key: config.JWT_PUBLIC_KEY });
    const first = parseJwtKeys(config.JWT_KEYS)[0];
    if (first) this.#signing = { kid: first.kid, secret: first.secret };
    else if (config.JWT_SECRET) this.#signing = { kid: null, secret: config.JWT_SECRET };
    else throw new Error('JWT_SECRET or JWT_KEYS is required');
    for (const [id, key] of this.#keys) {
      this.#verifiers.set(
        id,
        createVerifier({
          key: key.key,
          algorithms: [key.algorithm],
          // A configured iss/aud must be present, not merely right when present.
          requiredClaims: ['exp', ...(config.JWT_ISSUER ? ['iss'] : []), ...(config.JWT_AUDIENCE ? ['aud'] : [])],
          clockTolerance: config.JWT_CLOCK_SKEW_MS,
          cache: true,
          ...(config.JWT_ISSUER ? { allowedIss: config.JWT_ISSUER } : {}),
          ...(config.JWT_AUDIENCE ? { allowedAud: config.JWT_AUDIENCE } : {}),
        }),
      );
    }
  }

  /** The current signing key (for `pnpm token` and @fastify/jwt's `sign`). */
  get signing(): { kid: string | null; secret: string } {
    return this.#signing;
  }

  /** The verified payload, or JwtKeyError naming why not. */
  verify(token: string): unknown {
    const hit = this.#verified.get(token);
    if (hit && Date.now() < hit.untilMs) return hit.payload;
    const payload = this.#verify(token);
    const exp = (payload as { exp?: unknown }).exp;
    if (typeof exp === 'number') {
      if (this.#verified.size >= maxVerifiedTokens) this.#verified.clear();
      this.#verified.set(token, { payload, untilMs: exp * 1000 });
    }
    return payload;
  }

  #verify(token: string): unknown {
    let header: { alg?: unknown; kid?: unknown };
    try {
      header = (decode(token) as { header: { alg?: unknown; kid?: unknown } }).header;
    } catch {
      throw new JwtKeyError('malformed token');
    }
    const kid = typeof header.kid === 'string' ? header.kid : '';
    if (header.kid !== undefined && typeof header.kid !== 'string') throw new JwtKeyError('kid must be a string');
    const key = this.#keys.get(kid);
    const verifier = this.#verifiers.get(kid);
    if (!key || !verifier)
      throw new JwtKeyError(kid ? `unknown key id ${kid.slice(0, 32)}` : 'token has no kid and no JWT_SECRET is configured');
    if (header.alg !== key.algorithm) throw new JwtKeyError(`algorithm ${String(header.alg).slice(0, 16)} is not accepted for this key`);
    try {
      return verifier(token);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'FAST_JWT_EXPIRED') throw new JwtKeyError('token expired', true);
      if (code === 'FAST_JWT_MISSING_REQUIRED_CLAIM')
        throw new JwtKeyError('token is missing a required claim (exp; iss/aud when configured)');
      if (code === 'FAST_JWT_INVALID_CLAIM_VALUE') throw new JwtKeyError('token issuer or audience is not accepted');
      if (code === 'FAST_JWT_INACTIVE') throw new JwtKeyError('token not valid yet');
      throw new JwtKeyError('token signature or claims are invalid');
    }
  }
}

/** Signs an HS256 token with `kid` in its header when there is one. */
export function signToken(secret: string, kid: string | null, payload: Record<string, unknown>, ttlMs: number): string {
  return createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlMs, ...(kid ? { kid } : {}) })(payload);
}
