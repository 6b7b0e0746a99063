import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * A secret as stored: AES-256-GCM ciphertext, the id of the key that sealed it, the nonce and the
 * tag (base64). Without the key named by `kid` it is unreadable; with it, it opens only under the
 * same associated data (the sender it belongs to), so a ciphertext copied onto another record
 * fails its tag check instead of decrypting.
 */
export interface SealedSecret {
  /** Format version. */
  v: 1;
  /** Id of the key (SENDER_KEYS) that sealed it. */
  kid: string;
  /** 96-bit random nonce, base64. */
  iv: string;
  /** Ciphertext, base64. */
  ct: string;
  /** 128-bit GCM tag, base64. */
  tag: string;
}

export interface SecretKey {
  id: string;
  key: Buffer;
}

/** SENDER_KEYS (or a key in it) is malformed; the message names the key id, never its bytes. */
export class SecretKeyError extends Error {
  readonly code = 'secret_keys_invalid';
}

/** A sealed secret cannot be opened: its key is not configured, or it was altered or moved. */
export class SecretOpenError extends Error {
  readonly code = 'secret_unreadable';
}

const keyIdPattern = /^[A-Za-z0-9_-]{1,32}$/;
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const base64urlPattern = /^[A-Za-z0-9_-]+$/;

/**
 * Parses `kid:base64,kid:base64` (32-byte keys, standard or URL-safe base64). The first key
 * seals; every key opens. Throws SecretKeyError naming the first problem.
 */
export function parseSecretKeys(text: string): SecretKey[] {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) throw new SecretKeyError('must name at least one key as id:base64');
  const keys: SecretKey[] = [];
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    if (colon < 0) throw new SecretKeyError(`entry ${i + 1} must be id:base64 (no ":" found)`);
    const id = entry.slice(0, colon);
    const material = entry.slice(colon + 1);
    if (!keyIdPattern.test(id)) throw new SecretKeyError(`entry ${i + 1}: key id must be 1-32 letters, digits, _ or -`);
    if (keys.some((k) => k.id === id)) throw new SecretKeyError(`key id ${id} appears twice`);
    if (!base64Pattern.test(material) && !base64urlPattern.test(material)) throw new SecretKeyError(`key ${id} is not base64`);
    const key = Buffer.from(material, base64Pattern.test(material) ? 'base64' : 'base64url');
    if (key.length !== 32) throw new SecretKeyError(`key ${id} must be 32 bytes of base64 (it is ${key.length} bytes)`);
    keys.push({ id, key });
  }
  return keys;
}

/** A fresh `kid:base64` entry for SENDER_KEYS (the quick start and the rotation procedure use it). */
export const newSecretKeyEntry = (id: string): string => `${id}:${randomBytes(32).toString('base64')}`;

/**
 * Seals and opens secrets with AES-256-GCM (node:crypto). Keys come from SENDER_KEYS: the first
 * seals, every one opens, so a key is rotated without downtime — add the new key first, re-encrypt,
 * then drop the old one (docs/security.md). The keys are private fields: a box that reaches a log
 * line or JSON shows only its key ids.
 */
export class SecretBox {
  readonly #keys: Map<string, Buffer>;
  readonly #current: string;

  constructor(keys: SecretKey[]) {
    const first = keys[0];
    if (!first) throw new SecretKeyError('a secret box needs at least one key');
    this.#keys = new Map(keys.map((k) => [k.id, Buffer.from(k.key)]));
    this.#current = first.id;
  }

  /** The box SENDER_KEYS describes, or undefined when it is unset. */
  static fromKeys(text: string | undefined): SecretBox | undefined {
    return text ? new SecretBox(parseSecretKeys(text)) : undefined;
  }

  /** The id of the key that seals. */
  get keyId(): string {
    return this.#current;
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** Whether `sealed` is under the sealing key (else re-encryption would move it). */
  isCurrent(sealed: SealedSecret): boolean {
    return sealed.kid === this.#current;
  }

  canOpen(sealed: SealedSecret): boolean {
    return this.#keys.has(sealed.kid);
  }

  /** Encrypts `plaintext` under the current key, bound to `aad` (e.g. the record it belongs to). */
  seal(plaintext: string, aad: string): SealedSecret {
    const key = this.#keys.get(this.#current) as Buffer;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(associated(this.#current, aad));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { v: 1, kid: this.#current, iv: iv.toString('base64'), ct: ct.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
  }

  /** Decrypts; throws SecretOpenError when the key is missing or the tag does not check. */
  open(sealed: SealedSecret, aad: string): string {
    const key = this.#keys.get(sealed.kid);
    if (!key) throw new SecretOpenError(`sealed with key ${sealed.kid}, which SENDER_KEYS does not list`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'), { authTagLength: 16 });
      decipher.setAAD(associated(sealed.kid, aad));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretOpenError(`does not decrypt with key ${sealed.kid}: altered, or sealed for another record`);
    }
  }

  sealJson(value: Record<string, string>, aad: string): SealedSecret {
    return this.seal(JSON.stringify(value), aad);
  }

  openJson(sealed: SealedSecret, aad: string): Record<string, string> {
    return JSON.parse(this.open(sealed, aad)) as Record<string, string>;
  }

  toJSON(): { keyIds: string[] } {
    return { keyIds: this.keyIds };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SecretBox { keyIds: ${this.keyIds.join(', ')} }`;
  }
}

/** The key id is authenticated too: relabelling a ciphertext with another key id fails the tag check. */
const associated = (kid: string, aad: string) => Buffer.from(`herald.secret.v1|${kid}|${aad}`, 'utf8');
