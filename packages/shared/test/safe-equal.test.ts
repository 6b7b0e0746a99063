import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MetaWebhooks, safeEqual } from '../src/index.ts';

describe('safeEqual', () => {
  it('is true only for identical strings or bytes', () => {
    expect(safeEqual('verify-token', 'verify-token')).toBe(true);
    expect(safeEqual(Buffer.from('abc'), Buffer.from('abc'))).toBe(true);
    expect(safeEqual('verify-token', 'verify-tokem')).toBe(false);
    expect(safeEqual('verify-token', 'verify-token ')).toBe(false);
    expect(safeEqual('', 'x')).toBe(false);
    expect(safeEqual(undefined, 'x')).toBe(false);
    expect(safeEqual('x', null)).toBe(false);
    // Different lengths do not throw (timingSafeEqual alone would).
    expect(safeEqual('a', 'a'.repeat(1000))).toBe(false);
  });
});

describe('Meta signature on raw bytes', () => {
  const secret = 'app-secret';
  const webhooks = new MetaWebhooks(secret);
  const raw = Buffer.from('{"object":"whatsapp_business_account","entry":[]}');
  const sig = (body: Buffer | string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const check = (body: Buffer, header: string | undefined) =>
    webhooks.verifyWebhook({
      rawBody: body,
      url: 'http://x/api/v1/whatsapp/webhook',
      headers: header ? { 'x-hub-signature-256': header } : {},
    });

  it('accepts the signature of the exact bytes and nothing else', () => {
    expect(check(raw, sig(raw))).toBe(true);
    // Same JSON, other bytes (whitespace): refused.
    expect(check(Buffer.from(JSON.stringify(JSON.parse(raw.toString()), null, 1)), sig(raw))).toBe(false);
    expect(check(raw, sig(raw).toUpperCase())).toBe(false);
    expect(check(raw, sig(raw).slice(0, -2))).toBe(false);
    expect(check(raw, 'sha256=')).toBe(false);
    expect(check(raw, undefined)).toBe(false);
    expect(new MetaWebhooks(undefined).verifyWebhook({ rawBody: raw, url: '', headers: { 'x-hub-signature-256': sig(raw) } })).toBe(false);
  });
});
