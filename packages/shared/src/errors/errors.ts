/** The error codes of the HTTP envelope (SPEC 2) with their status. */
export const errorStatus = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  /** The template's provider template is not approved (Meta: paused, disabled, rejected, …). */
  template_not_approved: 409,
  /** Free-form text to a recipient outside the 24-hour customer-service window (SPEC 8). */
  outside_service_window: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export interface ErrorIssue {
  /** Dotted path of the offending field, e.g. `context.customer_name`. */
  path: string;
  message: string;
}

/**
 * An error a caller is meant to see. One place (the API's error handler) turns it into
 * `{"error","message","issues"}`; everything else just throws.
 */
export class HeraldError extends Error {
  readonly code: ErrorCode;
  readonly issues: ErrorIssue[] | undefined;
  constructor(code: ErrorCode, message: string, issues?: ErrorIssue[]) {
    super(message);
    this.name = 'HeraldError';
    this.code = code;
    this.issues = issues;
  }
  get statusCode(): number {
    return errorStatus[this.code];
  }
}

export const badRequest = (message: string, issues?: ErrorIssue[]) => new HeraldError('bad_request', message, issues);
export const notFound = (message = 'not found') => new HeraldError('not_found', message);
export const conflict = (message: string) => new HeraldError('conflict', message);
export const unavailable = (message: string) => new HeraldError('unavailable', message);

/** Field error: a 400 whose single issue names the field. */
export function fieldError(path: string, message: string): HeraldError {
  return badRequest(`${path}: ${message}`, [{ path, message }]);
}
