import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two secrets (strings or bytes) in constant time. Both sides are hashed first so the
 * comparison takes the same time whatever their lengths: a length mismatch leaks nothing either.
 * Every webhook signature, shared-secret header and verify token goes through this.
 */
export function safeEqual(given: string | Buffer | undefined | null, expected: string | Buffer | undefined | null): boolean {
  if (given == null || expected == null) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  // Equal digests with different inputs would need a sha256 collision; the length check is belt and braces.
  return timingSafeEqual(a, b) && Buffer.byteLength(given) === Buffer.byteLength(expected);
}
