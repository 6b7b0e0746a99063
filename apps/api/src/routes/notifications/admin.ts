import {
  announcePreferencesChanged,
  channels,
  fieldError,
  isMessageId,
  messageStatus,
  messageView,
  normalizePathPhone,
  notFound,
  toView,
} from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminOnly, anyRole, writers } from '../../plugins/auth.ts';
import { cancelMessage, processQueue, resendMessage, tenantScope } from '../../services/message-actions.ts';
import { computeStatistics } from '../../services/statistics.ts';
import { errorResponses } from '../schemas.ts';

const idParam = z.object({ id: z.string().max(64).meta({ example: 'msg_01JH8ZQ6S9V3X4Y5Z6A7B8C9D0' }) });
const phoneParam = z.object({ phone: z.string().min(1).max(40).meta({ example: '+919876543210' }) });

const statusCounts = z.record(messageStatus, z.number().int());
const latency = z.object({ mean: z.number().nullable(), p95: z.number().nullable() });
export const statisticsView = z
  .object({
    days: z.number().int(),
    from: z.string().meta({ example: '2026-01-03' }),
    to: z.string().meta({ example: '2026-02-01' }),
    total: z.number().int(),
    by_status: statusCounts,
    rates: z.object({ success: z.number().nullable(), delivery: z.number().nullable(), read: z.number().nullable() }),
    latency_ms: z.object({ queued_to_sent: latency, sent_to_delivered: latency }),
    by_type: z.array(z.object({ message_type: z.string(), total: z.number().int(), by_status: statusCounts })),
    by_day: z.array(z.object({ day: z.string(), total: z.number().int(), by_status: statusCounts })),
    queue: z.object({ waiting: z.number().int(), active: z.number().int(), delayed: z.number().int(), failed: z.number().int() }),
  })
  .meta({ id: 'Statistics' });

const settingsView = z.object({
  phone: z.string(),
  opted_out: z.boolean(),
  disabled_types: z.array(z.string()),
  updated_at: z.iso.datetime().nullable(),
  source: z.string().nullable(),
});

const route: FastifyPluginAsyncZod = async (app) => {
  const checkId = (id: string) => {
    // A malformed id is simply not found (SPEC 2).
    if (!isMessageId(id)) throw notFound('no such message');
  };

  app.delete(
    '/messages/:id',
    {
      preHandler: app.authorize(writers),
      schema: {
        summary: 'Cancel a queued or scheduled message',
        description: 'The message becomes `cancelled` and is never sent. 409 when it is in any other state (or being sent right now).',
        tags: ['messages'],
        params: idParam,
        response: { 200: messageView, ...errorResponses },
      },
    },
    async (request) => {
      checkId(request.params.id);
      return toView(await cancelMessage(app, request.principal, request.params.id));
    },
  );

  app.post(
    '/resend/:id',
    {
      preHandler: app.authorize(adminOnly),
      schema: {
        summary: 'Re-send a failed message',
        description:
          'Same id, back to `queued`, event `resent`; earlier attempts stay in the timeline. 409 unless the message is `failed`.',
        tags: ['messages'],
        params: idParam,
        response: { 202: messageView, ...errorResponses },
      },
    },
    async (request, reply) => {
      checkId(request.params.id);
      const doc = await resendMessage(app, request.principal, request.params.id, `by ${request.principal.sub}`);
      return reply.code(202).send(toView(doc));
    },
  );

  app.post(
    '/process-queue',
    {
      preHandler: app.authorize(adminOnly),
      schema: {
        summary: 'Retry now what can be retried',
        description:
          'Resends failed messages whose last error was retryable (never permanent failures) and cuts short the backoff of messages waiting for a retry. Scheduled messages keep their time.',
        tags: ['operations'],
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(1000) }).strict(),
        response: {
          200: z.object({ retried: z.number().int(), promoted: z.number().int(), skipped: z.number().int() }),
          ...errorResponses,
        },
      },
    },
    async (request) => processQueue(app, request.principal, request.query.limit),
  );

  app.get(
    '/statistics',
    {
      preHandler: app.authorize(anyRole),
      schema: {
        summary: 'Counts, rates, latencies, per type and day, queue depths',
        description: 'Over the last `days` UTC days of `created_at` (today included).',
        tags: ['history'],
        querystring: z
          .object({
            days: z.coerce.number().int().min(1).max(366).default(30),
            tenant: z.string().min(1).max(64).optional(),
            sender: z
              .string()
              .min(1)
              .max(64)
              .optional()
              .meta({ description: "Only messages through this sender (`env`: the deployment's)" }),
          })
          .strict(),
        response: { 200: statisticsView, ...errorResponses },
      },
    },
    async (request) =>
      computeStatistics(app, tenantScope(request.principal, request.query.tenant), request.query.days, new Date(), request.query.sender),
  );

  const phoneOf = (raw: string) => {
    const phone = normalizePathPhone(raw, app.config.DEFAULT_COUNTRY);
    if (!phone) throw fieldError('phone', 'not a valid phone number');
    return phone;
  };

  app.get(
    '/settings/:phone',
    {
      preHandler: app.authorize(anyRole),
      schema: {
        summary: "A recipient's preferences",
        description: 'Global to the deployment: an opt-out applies to the number across tenants.',
        tags: ['settings'],
        params: phoneParam,
        response: { 200: settingsView, ...errorResponses },
      },
    },
    async (request) => {
      const phone = phoneOf(request.params.phone);
      const doc = await app.store.settings.get(phone);
      return {
        phone,
        opted_out: doc?.opted_out ?? false,
        disabled_types: doc?.disabled_types ?? [],
        updated_at: doc?.updated_at?.toISOString() ?? null,
        source: doc?.source ?? null,
      };
    },
  );

  app.put(
    '/settings/:phone',
    {
      preHandler: app.authorize(adminOnly),
      schema: {
        summary: "Set a recipient's preferences",
        description:
          'Fields left out keep their value. Messages to an opted-out number, or of a disabled type, are recorded as `suppressed`.',
        tags: ['settings'],
        params: phoneParam,
        body: z
          .object({
            opted_out: z.boolean().optional(),
            disabled_types: z
              .array(z.string().min(1).max(64))
              .max(100)
              .optional()
              .meta({ example: ['churn_risk', 'new_product'] }),
          })
          .strict(),
        response: { 200: settingsView, ...errorResponses },
      },
    },
    async (request) => {
      const phone = phoneOf(request.params.phone);
      const { opted_out, disabled_types } = request.body;
      if (disabled_types) {
        const known = new Set((await app.templates.list()).map((t) => t.type));
        const unknown = disabled_types.filter((t) => !known.has(t));
        if (unknown.length > 0) throw fieldError('disabled_types', `unknown template types: ${unknown.join(', ')}`);
      }
      const doc = await app.store.settings.update(
        phone,
        { ...(opted_out !== undefined ? { opted_out } : {}), ...(disabled_types !== undefined ? { disabled_types } : {}) },
        `admin:${request.principal.sub}`,
      );
      // Every process drops its cached copy now: sends already queued re-check before the provider.
      await announcePreferencesChanged(app.redis, channels(app.config.QUEUE_PREFIX).preferences, phone, {
        opted_out: doc.opted_out ?? false,
        disabled_types: doc.disabled_types ?? [],
      });
      return {
        phone,
        opted_out: doc?.opted_out ?? false,
        disabled_types: doc?.disabled_types ?? [],
        updated_at: doc.updated_at.toISOString(),
        source: doc?.source ?? null,
      };
    },
  );
};

export default route;
