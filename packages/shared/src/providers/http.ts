import got, { type Got } from 'got';
import { userAgent } from '../version.ts';
import { networkError } from './provider.ts';

/** A provider's answer to one send, read whatever its status: the adapter classifies it. */
export interface ProviderAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface ProviderHttpOptions {
  baseUrl: string;
  timeoutMs?: number | undefined;
  headers?: Record<string, string>;
  username?: string;
  password?: string;
}

/**
 * The got instance every adapter sends with: Herald's User-Agent, one timeout per request, no got retries (BullMQ owns
 * retries; got must not retry behind its back), and HTTP errors returned rather than thrown.
 */
export function providerHttp(opts: ProviderHttpOptions): Got {
  return got.extend({
    prefixUrl: opts.baseUrl,
    headers: { 'user-agent': userAgent, ...opts.headers },
    ...(opts.username !== undefined ? { username: opts.username, password: opts.password ?? '' } : {}),
    timeout: { request: opts.timeoutMs ?? 10_000 },
    retry: { limit: 0 },
    throwHttpErrors: false,
  });
}

/** POSTs a JSON or form body; a network failure becomes a retryable ProviderError. */
export async function postToProvider(
  http: Got,
  path: string,
  body: { json: unknown } | { form: Record<string, string> },
): Promise<ProviderAnswer> {
  let response: { statusCode: number; body: string; headers: Record<string, string | string[] | undefined> };
  try {
    response = await http.post(path, body);
  } catch (err) {
    throw networkError(err);
  }
  return { statusCode: response.statusCode, headers: response.headers, json: safeJson(response.body) };
}

function safeJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
