import fc from 'fast-check';

/**
 * The routes the fuzzer attacks. To cover a new route, add a row: its method, a generator of
 * paths (fill the params with `pathSegment`), who calls it, and generators of its query and body.
 * The fuzzer then checks, for every generated request: no 5xx, every 4xx is the error envelope
 * naming what was wrong, and no message is recorded unless the answer was 2xx.
 */
export interface FuzzRoute {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: fc.Arbitrary<string>;
  /** Token role sent (a random wrong token is tried too), `none`, or `meta` for a webhook signature. */
  auth: 'admin' | 'service' | 'viewer' | 'none' | 'meta';
  query?: fc.Arbitrary<Record<string, string>>;
  body?: fc.Arbitrary<unknown>;
}

/** Strings that tend to break things: unicode, NUL, huge, prototype keys, numbers as text. */
export const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '__proto__',
    'constructor',
    '{{constructor.constructor}}',
    '+919876543210',
    '9876543210',
    '%2B919876543210',
    '00919876543210',
    'NaN',
    '-1',
    '1e309',
    '9'.repeat(40),
    'x'.repeat(1025),
    '../../etc/passwd',
    '<script>alert(1)</script>',
    "' OR 1=1 --",
    '{"$gt":""}',
    'msg_01J00000000000000000000000',
  ),
);

/** Any JSON-ish value, with prototype keys mixed in. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: 'small' },
  fc.jsonValue({ maxDepth: 3 }),
  nasty,
  fc.dictionary(fc.oneof(nasty, fc.constantFrom('__proto__', 'constructor', 'prototype', '$where', 'a.b')), fc.jsonValue({ maxDepth: 2 }), {
    maxKeys: 5,
  }),
);

export const pathSegment = fc
  .oneof(nasty, fc.constantFrom('+919876543210', 'msg_01J00000000000000000000000'))
  .map((s) => encodeURIComponent(s));

const sendFields = {
  phone: fc.oneof(nasty, fc.constantFrom('+919876543210', '+91 98765 43210', '919876543210'), anyValue),
  message_type: fc.oneof(fc.constantFrom('delivery_reminder', 'payment_reminder', 'nope', 'system_alert'), anyValue),
  context: fc.oneof(
    fc.dictionary(
      fc.oneof(nasty, fc.constantFrom('customer_name', 'delivery_date', 'amount', '__proto__')),
      fc.oneof(nasty, fc.integer(), fc.boolean(), anyValue),
      { maxKeys: 6 },
    ),
    anyValue,
  ),
  reference_id: fc.oneof(nasty, anyValue),
  immediate: fc.oneof(fc.boolean(), anyValue),
  send_at: fc.oneof(
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    nasty,
    anyValue,
  ),
  expires_at: fc.oneof(
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    nasty,
    anyValue,
  ),
  idempotency_key: fc.oneof(nasty, anyValue),
  callback_url: fc.oneof(fc.webUrl(), nasty, anyValue),
};

/** A body that should be accepted, with hostile extras mixed in: the fuzzer must see 2xx too. */
const nearlyValidSend = fc.record({
  phone: fc.integer({ min: 0, max: 99_999_999 }).map((n) => `+9198${String(n).padStart(8, '0')}`),
  message_type: fc.constant('delivery_reminder'),
  context: fc.record({ customer_name: nasty, delivery_date: nasty }),
  immediate: fc.constant(false),
  reference_id: fc.option(nasty, { nil: undefined }),
});

/** A send-message body: mostly plausible field names with hostile values, sometimes anything. */
const sendBody = fc.oneof(nearlyValidSend, fc.record(sendFields, { requiredKeys: [] }), anyValue);

const historyQuery = fc.dictionary(
  fc.oneof(fc.constantFrom('phone', 'reference_id', 'status', 'message_type', 'days', 'from', 'to', 'limit', 'skip', 'cursor'), nasty),
  nasty,
  { maxKeys: 5 },
);

const metaStatus = fc.record({
  id: nasty,
  status: fc.oneof(fc.constantFrom('sent', 'delivered', 'read', 'failed'), nasty),
  timestamp: fc.oneof(fc.integer().map(String), nasty),
  recipient_id: nasty,
  errors: fc.option(fc.array(fc.record({ code: fc.oneof(fc.integer(), nasty as fc.Arbitrary<unknown>), title: nasty }), { maxLength: 2 })),
});
/** Meta-shaped webhook bodies with hostile leaves, and anything at all. */
const metaBody = fc.oneof(
  fc.record({
    object: fc.oneof(fc.constant('whatsapp_business_account'), nasty),
    entry: fc.array(
      fc.record({
        id: nasty,
        changes: fc.array(
          fc.record({
            field: fc.oneof(fc.constant('messages'), nasty),
            value: fc.record(
              { statuses: fc.array(metaStatus, { maxLength: 3 }), messages: fc.option(fc.array(anyValue, { maxLength: 2 })) },
              { requiredKeys: [] },
            ),
          }),
          { maxLength: 2 },
        ),
      }),
      { maxLength: 2 },
    ),
  }),
  anyValue,
);

const templateType = fc.oneof(fc.constantFrom('delivery_reminder', 'system_alert', 'nope'), pathSegment);

/** Template bodies: plausible and hostile Handlebars, odd flags and provider mappings. */
const templateBody = fc.oneof(
  fc.record(
    {
      content: fc.oneof(
        fc.constantFrom('Hi {{customer_name}}', '{{#each}}', '{{constructor.constructor}}', '{{> partial}}', '{{lookup this "__proto__"}}'),
        nasty,
        anyValue,
      ),
      active: fc.oneof(fc.boolean(), anyValue),
      providers: anyValue,
    },
    { requiredKeys: [] },
  ),
  anyValue,
);

const senderId = fc.oneof(fc.constantFrom('env', 'snd_01JH8ZQ6S9V3X4Y5Z6A7B8C9D0'), pathSegment);
const senderSecret = fc.oneof(fc.constant('a-long-enough-secret'), nasty, anyValue);
/** Sender bodies: a plausible Meta sender with hostile leaves, any provider name, or anything. */
const senderBody = fc.oneof(
  fc.record(
    {
      provider: fc.oneof(fc.constantFrom('meta', 'twilio', 'myoperator'), nasty),
      tenant: fc.oneof(fc.constant('fuzz-tenant'), nasty),
      label: fc.oneof(fc.constant('Fuzz'), nasty),
      mps: fc.oneof(fc.integer({ min: -5, max: 2000 }), anyValue),
      default: fc.oneof(fc.boolean(), anyValue),
      disabled: fc.oneof(fc.boolean(), anyValue),
      identifiers: fc.oneof(
        fc.record(
          { phone_number_id: fc.oneof(fc.constant('106540352242922'), nasty), waba_id: fc.oneof(fc.constant('102290129340398'), nasty) },
          { requiredKeys: [] },
        ),
        anyValue,
      ),
      credentials: fc.oneof(fc.record({ access_token: senderSecret }, { requiredKeys: [] }), anyValue),
      webhook_secrets: fc.oneof(
        fc.record({ app_secret: senderSecret, verify_token: fc.oneof(senderSecret, fc.constant(null)) }, { requiredKeys: [] }),
        anyValue,
      ),
    },
    { requiredKeys: [] },
  ),
  anyValue,
);

export const fuzzRoutes: FuzzRoute[] = [
  {
    name: 'senders',
    method: 'GET',
    path: fc.constant('/api/v1/admin/senders'),
    auth: 'viewer',
    query: fc.dictionary(fc.oneof(fc.constant('tenant'), nasty), nasty, { maxKeys: 2 }),
  },
  { name: 'sender by id', method: 'GET', path: senderId.map((s) => `/api/v1/admin/senders/${s}`), auth: 'viewer' },
  { name: 'sender create', method: 'POST', path: fc.constant('/api/v1/admin/senders'), auth: 'admin', body: senderBody },
  { name: 'sender patch', method: 'PATCH', path: senderId.map((s) => `/api/v1/admin/senders/${s}`), auth: 'admin', body: senderBody },
  { name: 'sender disable', method: 'POST', path: senderId.map((s) => `/api/v1/admin/senders/${s}/disable`), auth: 'admin' },
  { name: 'senders reencrypt', method: 'POST', path: fc.constant('/api/v1/admin/senders/reencrypt'), auth: 'admin' },
  { name: 'send-message', method: 'POST', path: fc.constant('/api/notifications/send-message'), auth: 'service', body: sendBody },
  { name: 'message by id', method: 'GET', path: pathSegment.map((s) => `/api/notifications/messages/${s}`), auth: 'viewer' },
  { name: 'history', method: 'GET', path: fc.constant('/api/notifications/history'), auth: 'viewer', query: historyQuery },
  {
    name: 'history by phone',
    method: 'GET',
    path: pathSegment.map((s) => `/api/notifications/history/${s}`),
    auth: 'viewer',
    query: historyQuery,
  },
  { name: 'health', method: 'GET', path: fc.constant('/api/notifications/health'), auth: 'none' },
  {
    name: 'meta verify',
    method: 'GET',
    path: fc.constant('/api/v1/whatsapp/webhook'),
    auth: 'none',
    query: fc.dictionary(fc.oneof(fc.constantFrom('hub.mode', 'hub.verify_token', 'hub.challenge'), nasty), nasty, { maxKeys: 4 }),
  },
  { name: 'meta webhook', method: 'POST', path: fc.constant('/api/v1/whatsapp/webhook'), auth: 'meta', body: metaBody },
  { name: 'erase person', method: 'DELETE', path: pathSegment.map((s) => `/api/v1/admin/people/${s}`), auth: 'admin' },
  {
    name: 'send-bulk',
    method: 'POST',
    path: fc.constant('/api/notifications/send-bulk'),
    auth: 'service',
    body: fc.oneof(fc.record({ messages: fc.array(sendBody, { maxLength: 4 }) }), fc.record({ messages: anyValue }), anyValue),
  },
  { name: 'templates', method: 'GET', path: fc.constant('/api/notifications/templates'), auth: 'viewer' },
  { name: 'template sync', method: 'POST', path: fc.constant('/api/notifications/templates/sync'), auth: 'admin', body: anyValue },
  { name: 'template versions', method: 'GET', path: templateType.map((s) => `/api/notifications/templates/${s}/versions`), auth: 'viewer' },
  {
    name: 'template put',
    method: 'PUT',
    path: templateType.map((s) => `/api/notifications/templates/${s}`),
    auth: 'admin',
    body: templateBody,
  },
  {
    name: 'template preview',
    method: 'POST',
    path: templateType.map((s) => `/api/notifications/templates/${s}/preview`),
    auth: 'viewer',
    body: fc.oneof(fc.record({ context: anyValue }, { requiredKeys: [] }), anyValue),
  },
  { name: 'resend', method: 'POST', path: pathSegment.map((s) => `/api/notifications/resend/${s}`), auth: 'admin' },
  { name: 'cancel', method: 'DELETE', path: pathSegment.map((s) => `/api/notifications/messages/${s}`), auth: 'admin' },
  {
    name: 'statistics',
    method: 'GET',
    path: fc.constant('/api/notifications/statistics'),
    auth: 'viewer',
    query: fc.dictionary(fc.oneof(fc.constantFrom('days', 'tenant', 'from', 'to'), nasty), nasty, { maxKeys: 3 }),
  },
  { name: 'settings', method: 'GET', path: pathSegment.map((s) => `/api/notifications/settings/${s}`), auth: 'viewer' },
  { name: 'settings put', method: 'PUT', path: pathSegment.map((s) => `/api/notifications/settings/${s}`), auth: 'admin', body: anyValue },
  { name: 'twilio status', method: 'POST', path: fc.constant('/api/v1/twilio/status'), auth: 'none', body: anyValue },
  { name: 'myoperator webhook', method: 'POST', path: fc.constant('/api/v1/myoperator/webhook'), auth: 'none', body: anyValue },
];
