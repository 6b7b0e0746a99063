/**
 * MyOperator errors the simulator can answer with. Its public docs name only CHAT_0302 and the
 * 403 "Invalid company ID!"; the fault codes here are the simulator's own numbers for them.
 */
export const MYOPERATOR_ERRORS: ReadonlyMap<number, { http: number; code: string; message: string }> = new Map([
  [302, { http: 400, code: 'CHAT_0302', message: 'WABA is disabled' }],
  [403, { http: 403, code: '403', message: 'Invalid company ID!' }],
  [500, { http: 500, code: '500', message: 'Internal server error' }],
  [503, { http: 503, code: '503', message: 'Service unavailable' }],
]);

export function myOperatorError(code: number): { http: number; body: Record<string, unknown> } {
  const spec = MYOPERATOR_ERRORS.get(code) ?? { http: 500, code: '500', message: 'Internal server error' };
  return { http: spec.http, body: { status: 'error', code: spec.code, message: spec.message } };
}
