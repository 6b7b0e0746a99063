import { isMessageId, messageDetail, notFound, toDetail } from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { anyRole } from '../../plugins/auth.ts';
import { findMessage } from '../../services/pending-messages.ts';
import { errorResponses } from '../schemas.ts';

const route: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/messages/:id',
    {
      preHandler: app.authorize(anyRole),
      schema: {
        summary: 'One message with its timeline',
        tags: ['messages'],
        params: z.object({ id: z.string().max(64) }),
        response: { 200: messageDetail, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      // A malformed id is simply not found (SPEC 2): no hint about the id format leaks.
      if (!isMessageId(id)) throw notFound('no such message');
      const { principal } = request;
      const doc = await findMessage(app, id, principal.allTenants ? {} : { tenant: principal.tenant });
      if (!doc) throw notFound('no such message');
      return toDetail(doc);
    },
  );
};

export default route;
