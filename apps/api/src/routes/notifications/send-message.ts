import { messageView, sendMessageRequest } from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { writers } from '../../plugins/auth.ts';
import { acceptMessage } from '../../services/accept-message.ts';
import { errorResponses } from '../schemas.ts';

const route: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/send-message',
    {
      preHandler: app.authorize(writers),
      schema: {
        summary: 'Send one message',
        description:
          'Validates, records and queues one message. With `immediate` (default true) the answer waits up to IMMEDIATE_WAIT_MS for the first attempt: 200 when sent or finally failed, 202 while still queued, scheduled or retrying.',
        tags: ['messages'],
        headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }).loose(),
        body: sendMessageRequest,
        response: { 200: messageView, 202: messageView, ...errorResponses },
      },
    },
    async (request, reply) => {
      const result = await acceptMessage(app, request.principal, request.body, {
        headerKey: request.headers['idempotency-key'],
        requestId: request.id,
      });
      return reply.code(result.httpStatus).send(result.message);
    },
  );
};

export default route;
