import { fieldError, HeraldError, normalizePhone } from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminOnly } from '../../plugins/auth.ts';
import { erasePerson } from '../../services/erase-person.ts';
import { errorResponses } from '../schemas.ts';

const report = z.object({
  phone_redacted: z.string(),
  messages_anonymised: z.number(),
  jobs_removed: z.number(),
  settings_removed: z.number(),
  orphan_events_removed: z.number(),
  callbacks_removed: z.number(),
  webhook_jobs_removed: z.number(),
});

/**
 * DELETE /api/v1/admin/people/{phone}: erase one person (right to erasure). Only an admin
 * without a tenant claim (a platform admin) may: a person's settings are not per tenant.
 * Idempotent: a second call answers zero counts.
 */
const route: FastifyPluginAsyncZod = async (app) => {
  app.delete(
    '/people/:phone',
    {
      preHandler: app.authorize(adminOnly),
      schema: {
        summary: 'Erase everything Herald holds about one phone number; answers what it touched',
        tags: ['privacy'],
        params: z.object({ phone: z.string().min(1).max(32) }),
        response: { 200: report, ...errorResponses },
      },
    },
    async (request) => {
      if (!request.principal.allTenants) throw new HeraldError('forbidden', 'erasure needs an admin token without a tenant claim');
      const phone = normalizePhone(request.params.phone, app.config.DEFAULT_COUNTRY);
      if (!phone) throw fieldError('phone', 'not a valid phone number');
      const result = await erasePerson(app, phone);
      request.log.info({ phone: result.phone_redacted, ...result }, 'person erased');
      return result;
    },
  );
};

export default route;
