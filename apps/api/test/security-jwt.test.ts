import { createHmac, generateKeyPairSync } from 'node:crypto';
import { fastifyOptions, app as heraldApi } from '@herald/api';
import { dropHeraldData, testConfig, testSecrets } from '@herald/test-utils';
import { createSigner } from 'fast-jwt';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtKeyRing, parseJwtKeys, signToken } from '../src/plugins/jwt-keys.ts';

const oldKey = 'old-key-secret-0123456789abcdefghijklmnop';
const newKey = 'new-key-secret-0123456789abcdefghijklmnop';
const claims = { sub: 'svc', role: 'service' };
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('JWT key ring', () => {
  const ring = new JwtKeyRing(testConfig({ JWT_KEYS: `k2:${newKey},k1:${oldKey}` }));

  it('verifies tokens of every configured kid, and JWT_SECRET for tokens without a kid', () => {
    expect(ring.verify(signToken(newKey, 'k2', claims, 60_000))).toMatchObject(claims);
    expect(ring.verify(signToken(oldKey, 'k1', claims, 60_000))).toMatchObject(claims);
    expect(ring.verify(signToken(testSecrets.JWT_SECRET, null, claims, 60_000))).toMatchObject(claims);
    // The first JWT_KEYS entry signs.
    expect(ring.signing).toEqual({ kid: 'k2', secret: newKey });
  });

  it('refuses an unknown kid, and a kid paired with another key', () => {
    expect(() => ring.verify(signToken(newKey, 'k9', claims, 60_000))).toThrow(/unknown key id k9/);
    expect(() => ring.verify(signToken(oldKey, 'k2', claims, 60_000))).toThrow(/signature/);
  });

  it('refuses alg none and tokens without exp', () => {
    const none = `${b64({ alg: 'none', typ: 'JWT', kid: 'k2' })}.${b64({ ...claims, exp: 9_999_999_999 })}.`;
    expect(() => ring.verify(none)).toThrow(/algorithm none/);
    const noExp = createSigner({ key: newKey, algorithm: 'HS256', kid: 'k2' })(claims);
    expect(() => ring.verify(noExp)).toThrow(/exp/);
    const hs512 = createSigner({ key: newKey, algorithm: 'HS512', kid: 'k2', expiresIn: 60_000 })(claims);
    expect(() => ring.verify(hs512)).toThrow(/algorithm HS512/);
  });

  it('bounds clock skew: expired within the tolerance passes, beyond it fails', () => {
    const skewed = new JwtKeyRing(testConfig({ JWT_CLOCK_SKEW_MS: '30000' }));
    const exp = (secondsAgo: number) => Math.floor(Date.now() / 1000) - secondsAgo;
    const token = (secondsAgo: number) =>
      createSigner({ key: testSecrets.JWT_SECRET, algorithm: 'HS256' })({ ...claims, exp: exp(secondsAgo) });
    expect(skewed.verify(token(5))).toMatchObject(claims);
    expect(() => skewed.verify(token(120))).toThrow(/expired/);
    const strict = new JwtKeyRing(testConfig({ JWT_CLOCK_SKEW_MS: '0' }));
    expect(() => strict.verify(token(5))).toThrow(/expired/);
  });

  it('checks issuer and audience when configured', () => {
    const ring2 = new JwtKeyRing(testConfig({ JWT_ISSUER: 'orders', JWT_AUDIENCE: 'herald' }));
    const s = testSecrets.JWT_SECRET;
    expect(ring2.verify(signToken(s, null, { ...claims, iss: 'orders', aud: 'herald' }, 60_000))).toMatchObject(claims);
    expect(() => ring2.verify(signToken(s, null, { ...claims, iss: 'evil', aud: 'herald' }, 60_000))).toThrow(/issuer or audience/);
    expect(() => ring2.verify(signToken(s, null, { ...claims, iss: 'orders' }, 60_000))).toThrow();
    expect(() => ring2.verify(signToken(s, null, claims, 60_000))).toThrow();
  });

  it('RS256 public key: a real RS256 token passes, an HS256 token signed with the public key as secret fails', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rsRing = new JwtKeyRing(testConfig({ JWT_PUBLIC_KEY: pem }));
    const rs = createSigner({
      key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      algorithm: 'RS256',
      kid: 'rs256',
      expiresIn: 60_000,
    })(claims);
    expect(rsRing.verify(rs)).toMatchObject(claims);
    // The classic confusion attack: HMAC with the public key text, claiming the RS key's kid.
    const forged = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'rs256' })}.${b64({ ...claims, exp: 9_999_999_999 })}`;
    const sig = createHmac('sha256', pem).update(forged).digest('base64url');
    expect(() => rsRing.verify(`${forged}.${sig}`)).toThrow(/algorithm HS256/);
  });

  it('JWT_KEYS entries need a kid and a 32-character secret', () => {
    expect(() => parseJwtKeys('a:short')).toThrow(/at least 32/);
    expect(() => parseJwtKeys(`:${newKey}`)).toThrow(/kid:secret/);
    expect(parseJwtKeys(`a:${newKey}, b:${oldKey}`)).toEqual([
      { kid: 'a', secret: newKey },
      { kid: 'b', secret: oldKey },
    ]);
  });
});

describe('API authentication with rotated keys', () => {
  let api: FastifyInstance;
  const config = testConfig({ JWT_KEYS: `k2:${newKey},k1:${oldKey}` });
  beforeAll(async () => {
    api = Fastify({ ...fastifyOptions, logger: false });
    await api.register(heraldApi, { config });
    await api.ready();
  });
  afterAll(async () => {
    await api?.close();
    await dropHeraldData(config);
  });

  const history = (token: string) =>
    api.inject({ method: 'GET', url: '/api/notifications/history', headers: { authorization: `Bearer ${token}` } });

  it('old and new keys both work during rotation; a retired key is 401 naming why', async () => {
    const viewer = { sub: 'v', role: 'viewer' };
    expect((await history(signToken(newKey, 'k2', viewer, 60_000))).statusCode).toBe(200);
    expect((await history(signToken(oldKey, 'k1', viewer, 60_000))).statusCode).toBe(200);
    const retired = await history(signToken('retired-secret-0123456789abcdefghijklmn', 'k0', viewer, 60_000));
    expect(retired.statusCode).toBe(401);
    expect(retired.json()).toMatchObject({ error: 'unauthorized', message: expect.stringMatching(/unknown key id k0/) });
    const expired = await history(createSigner({ key: newKey, algorithm: 'HS256', kid: 'k2' })({ ...viewer, exp: 1 }));
    expect(expired.json().message).toMatch(/expired/);
  });
});
