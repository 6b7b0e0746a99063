import { z } from 'zod';

/** The error envelope of SPEC 2, for the OpenAPI document. */
export const errorEnvelope = z
  .object({
    error: z.enum([
      'bad_request',
      'unauthorized',
      'forbidden',
      'not_found',
      'conflict',
      'template_not_approved',
      'outside_service_window',
      'payload_too_large',
      'rate_limited',
      'unavailable',
      'internal',
    ]),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Error' });

export const errorResponses = {
  400: errorEnvelope,
  401: errorEnvelope,
  403: errorEnvelope,
  404: errorEnvelope,
  409: errorEnvelope,
  503: errorEnvelope,
};
