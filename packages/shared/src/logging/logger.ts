import { type Logger, type LoggerOptions, pino } from 'pino';
import { maskPhone } from '../phone/phone.ts';

/**
 * Paths pino blanks in every log line: credentials and tokens wherever they may appear.
 * Phone numbers are masked where they are logged (`maskPhone`), never logged whole.
 */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-twilio-signature"]',
  'headers.authorization',
  'accessToken',
  'authToken',
  'apiKey',
  'secret',
  'token',
  '*.accessToken',
  '*.token',
  '*.secret',
  '*.password',
];

/** Query parameters whose values are secrets wherever they appear. */
const secretParams = /([?&](?:hub\.verify_token|token|access_token|api_key|secret)=)[^&]*/gi;
/** Runs of 7+ digits, optionally after + or %2B: phone numbers in paths and query strings. */
const phoneLike = /(?:\+|%2B)?\d{7,15}/gi;

/** Free text fit for a log line (a provider's error message may quote the number): phone-like digit runs masked. */
export function maskDigits(text: string): string {
  return text.replace(phoneLike, (m) => maskPhone(m.replace(/^%2B/i, '+')));
}

/** A URL fit for a log line: secret parameters blanked, phone numbers masked. */
export function maskUrl(url: string): string {
  return url.replace(secretParams, '$1[redacted]').replace(phoneLike, (m) => maskPhone(m.replace(/^%2B/i, '+')));
}

export function loggerOptions(level: string, name: string): LoggerOptions {
  return {
    level,
    name,
    redact: { paths: redactPaths, censor: '[redacted]' },
    serializers: {
      req: (req: { method?: string; url?: string; id?: string; socket?: { remoteAddress?: string } }) => ({
        method: req.method,
        url: maskUrl(req.url ?? ''),
        remoteAddress: req.socket?.remoteAddress,
      }),
    },
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(level: string, name: string): Logger {
  return pino(loggerOptions(level, name));
}
