import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, newSecretKeyEntry, parseConfig, parseSecretKeys, SecretBox, SecretOpenError } from '../src/index.ts';

const key = () => randomBytes(32);

describe('SecretBox (AES-256-GCM)', () => {
  it('seals and opens; every seal has a fresh nonce and names its key', () => {
    const box = new SecretBox([{ id: 'k1', key: key() }]);
    const a = box.seal('EAAG-secret-token', 'sender:snd_1');
    const b = box.seal('EAAG-secret-token', 'sender:snd_1');
    expect(a.kid).toBe('k1');
    expect(a.iv).not.toBe(b.iv);
    expect(a.ct).not.toBe(b.ct);
    expect(JSON.stringify(a)).not.toContain('EAAG');
    expect(box.open(a, 'sender:snd_1')).toBe('EAAG-secret-token');
  });

  it('refuses a ciphertext moved to another record, altered, or relabelled with another key id', () => {
    const k1 = key();
    const box = new SecretBox([
      { id: 'k2', key: key() },
      { id: 'k1', key: k1 },
    ]);
    const sealed = box.seal('secret-value', 'sender:snd_1');
    expect(() => box.open(sealed, 'sender:snd_2')).toThrow(SecretOpenError);
    const ct = Buffer.from(sealed.ct, 'base64');
    ct[0] = (ct[0] ?? 0) ^ 1;
    expect(() => box.open({ ...sealed, ct: ct.toString('base64') }, 'sender:snd_1')).toThrow(SecretOpenError);
    expect(() => box.open({ ...sealed, kid: 'k1' }, 'sender:snd_1')).toThrow(SecretOpenError);
  });

  it('the first key seals, all open; without the sealing key a secret is unreadable, naming the key id', () => {
    const k1 = key();
    const k2 = key();
    const old = new SecretBox([{ id: 'k1', key: k1 }]);
    const sealed = old.seal('rotate-me', 'aad');
    const rotated = new SecretBox([
      { id: 'k2', key: k2 },
      { id: 'k1', key: k1 },
    ]);
    expect(rotated.keyId).toBe('k2');
    expect(rotated.isCurrent(sealed)).toBe(false);
    expect(rotated.open(sealed, 'aad')).toBe('rotate-me');
    const resealed = rotated.seal(rotated.open(sealed, 'aad'), 'aad');
    const only2 = new SecretBox([{ id: 'k2', key: k2 }]);
    expect(only2.open(resealed, 'aad')).toBe('rotate-me');
    expect(() => only2.open(sealed, 'aad')).toThrow(/key k1/);
  });

  it('never shows its keys in JSON or inspect output', () => {
    const material = key();
    const box = new SecretBox([{ id: 'k1', key: material }]);
    for (const text of [JSON.stringify(box), inspect(box), JSON.stringify({ box })]) {
      expect(text).toContain('k1');
      expect(text).not.toContain(material.toString('base64'));
      expect(text).not.toContain(material.toString('hex'));
    }
  });
});

describe('SENDER_KEYS', () => {
  const lines = (value: string) => {
    try {
      parseConfig({ SENDER_KEYS: value });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).lines;
    }
    throw new Error('expected SENDER_KEYS to be refused');
  };

  it('accepts ids with 32-byte keys in standard or URL-safe base64; the first seals', () => {
    const value = `${newSecretKeyEntry('k2')},k1:${key().toString('base64url')}`;
    expect(parseConfig({ SENDER_KEYS: value }).SENDER_KEYS).toBe(value);
    expect(parseSecretKeys(value).map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(SecretBox.fromKeys(value)?.keyId).toBe('k2');
    expect(SecretBox.fromKeys(undefined)).toBeUndefined();
  });

  it.each([
    ['a 16-byte key', `k1:${randomBytes(16).toString('base64')}`, /key k1 must be 32 bytes .*16 bytes/],
    ['not base64', 'k1:not*base64!', /key k1 is not base64/],
    ['no id', randomBytes(32).toString('base64'), /id:base64/],
    ['a repeated id', `k1:${key().toString('base64')},k1:${key().toString('base64')}`, /k1 appears twice/],
    ['a bad id', `k 1:${key().toString('base64')}`, /key id/],
  ])('%s stops the process with one line naming SENDER_KEYS and never the key', (_what, value, message) => {
    const got = lines(value);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^SENDER_KEYS: /);
    expect(got[0]).toMatch(message);
    const material = value.split(':').slice(1).join(':');
    if (material.length > 8) expect(got[0]).not.toContain(material.split(',')[0]);
  });
});
