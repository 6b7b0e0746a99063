import {
  acceptJobOptions,
  type ErrorIssue,
  HeraldError,
  jobNames,
  sendBulkRequest,
  sendBulkResponse,
  sendMessageRequest,
  toView,
} from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { writers } from '../../plugins/auth.ts';
import { acceptJobOf, type Prepared, prepareMessage } from '../../services/accept-message.ts';
import { errorResponses } from '../schemas.ts';

type ItemResult = z.infer<typeof sendBulkResponse>['results'][number];

const prefixed = (index: number, issues: ErrorIssue[] | undefined, fallback: string): ErrorIssue[] =>
  (issues && issues.length > 0 ? issues : [{ path: '', message: fallback }]).map((i) => ({
    path: i.path ? `messages.${index}.${i.path}` : `messages.${index}`,
    message: i.message,
  }));

/**
 * Up to 1,000 messages in one request: each item is checked on its own (one bad item never
 * rejects the others), then every accepted one is queued with one addBulk (the worker writes them
 * to history in batches). Answers 207 with a result per item in input order. `immediate` is ignored here:
 * a bulk request never waits for sends.
 */
const route: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/send-bulk',
    {
      preHandler: app.authorize(writers),
      bodyLimit: 8 * 1024 * 1024,
      schema: {
        summary: 'Send up to 1,000 messages',
        description:
          'Each item is a send-message body, validated on its own. Answers 207 with `{"results":[…]}` in input order: `{"index","id","status"}` for an accepted item (or a replayed idempotency key), `{"index","error","message","issues"}` for a refused one. Messages are never waited for.',
        tags: ['messages'],
        body: sendBulkRequest,
        response: { 207: sendBulkResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { messages } = request.body;
      const now = new Date();
      const results: ItemResult[] = new Array(messages.length);

      const accepted: { index: number; prepared: Prepared }[] = [];
      // The same idempotency key twice in one request: the later items answer with the first.
      const firstWithKey = new Map<string, { index: number; body: string }>();
      const repeats: { index: number; first: number; same: boolean }[] = [];
      for (const [index, raw] of messages.entries()) {
        const parsed = sendMessageRequest.safeParse(raw);
        if (!parsed.success) {
          const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
          results[index] = { index, error: 'bad_request', message: 'invalid message', issues: prefixed(index, issues, 'invalid') };
          continue;
        }
        const key = parsed.data.idempotency_key;
        if (key !== undefined) {
          const body = JSON.stringify(parsed.data);
          const first = firstWithKey.get(key);
          if (first !== undefined) {
            repeats.push({ index, first: first.index, same: first.body === body });
            continue;
          }
          firstWithKey.set(key, { index, body });
        }
        try {
          const out = await prepareMessage(app, parsed.data, { principal: request.principal, requestId: request.id, now });
          if ('replayed' in out) results[index] = { index, id: out.replayed.message.id, status: out.replayed.message.status };
          else accepted.push({ index, prepared: out.prepared });
        } catch (err) {
          if (!(err instanceof HeraldError)) throw err;
          results[index] = { index, error: err.code, message: err.message, issues: prefixed(index, err.issues, err.message) };
        }
      }

      if (accepted.length > 0) {
        try {
          // One addBulk (one Redis round trip) for the whole batch: the worker writes the records
          // to history in batches and queues the sends.
          await app.queues.accept.addBulk(
            accepted.map(({ prepared }) => ({
              name: jobNames.accept,
              data: acceptJobOf(prepared),
              opts: acceptJobOptions(prepared.doc._id),
            })),
          );
        } catch (err) {
          // Nothing of this batch is answered as accepted: free the keys.
          const keys = accepted.map((a) => a.prepared.idemRedisKey).filter((k): k is string => !!k);
          if (keys.length > 0) await app.redis.del(...keys).catch(() => undefined);
          throw err;
        }
        for (const { index, prepared } of accepted) {
          const view = toView(prepared.doc);
          results[index] = { index, id: view.id, status: view.status };
        }
      }
      for (const { index, first, same } of repeats) {
        const r = results[first];
        results[index] =
          r && 'id' in r && same
            ? { ...r, index }
            : { index, error: 'conflict', message: `idempotency key already used by item ${first} with a different request` };
      }
      return reply.code(207).send({ results });
    },
  );
};

export default route;
