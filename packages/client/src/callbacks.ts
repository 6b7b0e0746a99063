import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header carrying a callback's signature: `sha256=<hex HMAC-SHA256 of the exact body>`. */
export const callbackSignatureHeader = 'x-herald-signature';

/**
 * For callback receivers: constant-time check of an `X-Herald-Signature` header against the raw
 * request body (the exact bytes received, not re-serialised JSON) and the shared CALLBACK_SECRET.
 */
export function verifyCallbackSignature(secret: string, body: string, header: string | undefined | null): boolean {
  if (!header) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
