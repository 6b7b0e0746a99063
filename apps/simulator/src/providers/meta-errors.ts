import { randomBytes } from 'node:crypto';

interface MetaErrorSpec {
  /** HTTP status Meta answers with (PROVIDERS.md's table). */
  http: number;
  title: string;
  /** error_data.details when the simulator produces the error as a fault. */
  details: string;
  /** Only where Meta is known to send one; otherwise the field is left out. */
  subcode?: number;
}

// The one place that knows Meta's error codes. Throttling errors are HTTP 400 without Retry-After,
// as Meta sends them; only the bare 429 fault (rate_429 / http_429) answers 429.
export const META_ERRORS: ReadonlyMap<number, MetaErrorSpec> = new Map<number, MetaErrorSpec>([
  [0, { http: 401, title: 'AuthException', details: 'We were unable to authenticate the app user.' }],
  [2, { http: 503, title: 'Service temporarily unavailable', details: 'Temporary due to downtime or overload.' }],
  [4, { http: 400, title: 'Application request limit reached', details: 'The app has reached its API call rate limit.' }],
  [
    10,
    {
      http: 403,
      title: 'Application does not have permission for this action',
      details: 'Permission is either not granted or has been removed.',
    },
  ],
  [100, { http: 400, title: 'Invalid parameter', details: 'The request included one or more unsupported or misspelled parameters.' }],
  [190, { http: 401, title: 'Access token has expired', details: 'Your access token has expired.' }],
  [200, { http: 403, title: 'Permission error', details: 'Permission is either not granted or has been removed.' }],
  [
    368,
    {
      http: 403,
      title: 'Temporarily blocked for policies violations',
      details: 'The WhatsApp Business Account is restricted or disabled for violating a platform policy.',
    },
  ],
  [80007, { http: 400, title: 'Rate limit issues', details: 'The WhatsApp Business Account has reached its rate limit.' }],
  [130429, { http: 400, title: 'Rate limit hit', details: 'Cloud API message throughput has been reached.', subcode: 2494055 }],
  [131000, { http: 500, title: 'Something went wrong', details: 'Message failed to send due to an unknown error.' }],
  [131008, { http: 400, title: 'Required parameter is missing', details: 'The request is missing a required parameter.' }],
  [131009, { http: 400, title: 'Parameter value is not valid', details: 'One or more parameter values are invalid.' }],
  [131016, { http: 503, title: 'Service unavailable', details: 'A service is temporarily unavailable.' }],
  [
    131026,
    {
      http: 400,
      title: 'Message Undeliverable',
      details: 'Unable to deliver message: the recipient is not on WhatsApp, uses an old app, or has not accepted the terms.',
    },
  ],
  [131031, { http: 403, title: 'Business Account locked', details: 'The WhatsApp Business Account has been locked.' }],
  [131042, { http: 400, title: 'Business eligibility payment issue', details: 'There was an error related to your payment method.' }],
  [
    131047,
    {
      http: 400,
      title: 'Re-engagement message',
      details: 'More than 24 hours have passed since the recipient last replied to the sender number.',
    },
  ],
  [
    131048,
    {
      http: 400,
      title: 'Spam rate limit hit',
      details: 'Message failed to send because there are restrictions on how many messages can be sent from this phone number.',
    },
  ],
  [
    131049,
    {
      http: 400,
      title: 'This message was not delivered to maintain healthy ecosystem engagement',
      details: 'Meta chose not to deliver this marketing message.',
    },
  ],
  [
    131050,
    {
      http: 400,
      title: 'User has stopped marketing messages',
      details: 'The recipient has opted out of marketing messages from this business.',
    },
  ],
  [131051, { http: 400, title: 'Unsupported message type', details: 'Unsupported message type.' }],
  [
    131056,
    {
      http: 400,
      title: '(Business Account, Consumer Account) pair rate limit hit',
      details: 'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.',
    },
  ],
  [131057, { http: 500, title: 'Account in maintenance mode', details: 'The business account is in maintenance mode.' }],
  [
    132000,
    {
      http: 400,
      title: 'Template Param Count Mismatch',
      details: 'The number of variable parameter values does not match the number of variables in the template.',
    },
  ],
  [
    132001,
    {
      http: 404,
      title: 'Template does not exist',
      details: 'The template does not exist in the specified language or has not been approved.',
    },
  ],
  [132012, { http: 400, title: 'Template Parameter Format Mismatch', details: 'Variable parameter values are formatted incorrectly.' }],
  [132015, { http: 400, title: 'Template is Paused', details: 'The template is paused due to low quality.' }],
  [
    132016,
    {
      http: 400,
      title: 'Template is Disabled',
      details: 'The template has been paused too many times due to low quality and is now permanently disabled.',
    },
  ],
  [133004, { http: 503, title: 'Server Temporarily Unavailable', details: 'The server is temporarily unavailable.' }],
]);

export const META_ERROR_CODES: ReadonlySet<number> = new Set(META_ERRORS.keys());

export interface MetaErrorBody {
  error: {
    message: string;
    type: string;
    code: number;
    error_data?: { messaging_product: 'whatsapp'; details: string };
    error_subcode?: number;
    fbtrace_id: string;
  };
}

export interface MetaErrorOverrides {
  /** Replaces `(#code) title`, for validation errors that name the field. */
  message?: string;
  details?: string;
  type?: string;
  subcode?: number;
  http?: number;
}

/** Meta's error envelope for `code`, with the HTTP status Meta answers it with. */
export function metaError(code: number, overrides: MetaErrorOverrides = {}): { http: number; body: MetaErrorBody } {
  const spec = META_ERRORS.get(code);
  if (!spec) throw new Error(`no Meta error with code ${code} in META_ERRORS`);
  const subcode = overrides.subcode ?? spec.subcode;
  return {
    http: overrides.http ?? spec.http,
    body: {
      error: {
        message: overrides.message ?? `(#${code}) ${spec.title}`,
        type: overrides.type ?? 'OAuthException',
        code,
        error_data: { messaging_product: 'whatsapp', details: overrides.details ?? spec.details },
        ...(subcode === undefined ? {} : { error_subcode: subcode }),
        fbtrace_id: fbtraceId(),
      },
    },
  };
}

/** The `errors[]` entry of a `failed` status webhook. */
export function metaStatusError(code: number): { code: number; title: string; message: string; error_data: { details: string } } {
  const spec = META_ERRORS.get(code);
  if (!spec) throw new Error(`no Meta error with code ${code} in META_ERRORS`);
  return { code, title: spec.title, message: spec.title, error_data: { details: spec.details } };
}

function fbtraceId(): string {
  return `A${randomBytes(16).toString('base64url').slice(0, 22)}`;
}
