import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * Normalises any common way of writing a number to E.164, using libphonenumber's full metadata
 * (the `max` build: it knows which ranges are really assigned, not only their lengths).
 * Returns undefined for anything it does not hold valid.
 */
export function normalizePhone(input: string, defaultCountry: string): string | undefined {
  const trimmed = input.trim();
  if (trimmed === '' || trimmed.length > 32) return undefined;
  // "919876543210" without "+" is ambiguous; a leading 00 or + is international.
  const phone = parsePhoneNumberFromString(trimmed, defaultCountry as CountryCode);
  if (!phone?.isValid()) return undefined;
  return phone.number;
}

/** Normalises a phone number that arrived in a URL path, where "+" may be missing or %2B. */
export function normalizePathPhone(input: string, defaultCountry: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(input).trim();
  } catch {
    return undefined; // malformed percent-encoding is just not a phone number
  }
  return normalizePhone(decoded, defaultCountry) ?? normalizePhone(`+${decoded.replace(/^\+/, '')}`, defaultCountry);
}

/** For logs: keeps the country code's first digits and the last two, e.g. `+91******10`. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  if (digits.length < 6) return '***';
  return `+${digits.slice(0, 2)}${'*'.repeat(digits.length - 4)}${digits.slice(-2)}`;
}
