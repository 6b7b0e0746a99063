/** Twilio errors the simulator can answer with (PROVIDERS.md), by code: HTTP status and message. */
export const TWILIO_ERRORS: ReadonlyMap<number, { http: number; message: string }> = new Map([
  [20003, { http: 401, message: 'Authenticate' }],
  [20429, { http: 429, message: 'Too Many Requests' }],
  [20500, { http: 500, message: 'An internal server error has occurred' }],
  [20503, { http: 503, message: 'Service unavailable' }],
  [21211, { http: 400, message: "The 'To' number is not a valid phone number." }],
  [21602, { http: 400, message: 'Message body is required.' }],
  [21617, { http: 400, message: 'The concatenated message body exceeds the 1600 character limit.' }],
  [21620, { http: 400, message: 'Invalid media URL(s)' }],
  [21656, { http: 400, message: 'The ContentVariables Parameter is invalid.' }],
  [63016, { http: 400, message: 'Failed to send freeform message because you are outside the allowed window.' }],
  [63018, { http: 429, message: 'Rate limit exceeded for Channel' }],
]);

export function twilioError(code: number): { http: number; body: Record<string, unknown> } {
  const spec = TWILIO_ERRORS.get(code) ?? { http: 500, message: 'An internal server error has occurred' };
  const known = TWILIO_ERRORS.has(code) ? code : 20500;
  return {
    http: spec.http,
    body: { code: known, message: spec.message, more_info: `https://www.twilio.com/docs/errors/${known}`, status: spec.http },
  };
}
