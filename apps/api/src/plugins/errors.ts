import { type ErrorCode, type ErrorIssue, errorStatus, HeraldError } from '@herald/shared';
import { isStoreUnavailable } from '@herald/store';
import type { FastifyError } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

const codeByStatus: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  429: 'rate_limited',
  503: 'unavailable',
};

interface ZodValidationItem {
  instancePath: string;
  message: string;
  params?: { keys?: string[] };
}

function toIssues(context: string | undefined, items: ZodValidationItem[]): ErrorIssue[] {
  return items.map((item) => {
    const path = item.instancePath.replace(/^\//, '').replaceAll('/', '.');
    // An unknown key is reported at its parent; name the key itself.
    const keys = item.params?.keys;
    const full = keys?.length ? [path, keys.join(',')].filter(Boolean).join('.') : path;
    return { path: full || (context ?? 'body'), message: item.message };
  });
}

const isDependencyDown = (err: unknown) =>
  isStoreUnavailable(err) ||
  (err as { name?: string }).name === 'MaxRetriesPerRequestError' ||
  /Connection is closed|ECONNREFUSED/.test((err as Error).message ?? '');

/**
 * The one place errors become the envelope `{"error","message","issues"}` (SPEC 2). Anything the
 * caller sent that is wrong is a 4xx; an unreachable dependency is a 503; the rest is a 500.
 */
export default fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError | HeraldError | Error, request, reply) => {
      if (err instanceof HeraldError) {
        return reply.code(err.statusCode).send({ error: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) });
      }
      if (hasZodFastifySchemaValidationErrors(err)) {
        const issues = toIssues(err.validationContext, err.validation as unknown as ZodValidationItem[]);
        const first = issues[0];
        const message = first ? `${first.path}: ${first.message}` : 'invalid request';
        return reply.code(400).send({ error: 'bad_request', message, issues });
      }
      const status = (err as FastifyError).statusCode;
      if (status && status >= 400 && status < 500) {
        const code = codeByStatus[status] ?? 'bad_request';
        return reply.code(errorStatus[code]).send({ error: code, message: err.message });
      }
      if (isDependencyDown(err)) {
        request.log.warn({ err: err.message }, 'dependency unavailable');
        return reply.code(503).send({ error: 'unavailable', message: 'a dependency is unavailable; retry shortly' });
      }
      request.log.error({ err }, 'unhandled error');
      return reply.code(500).send({ error: 'internal', message: 'internal error' });
    });
    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
    );
  },
  { name: 'errors' },
);
