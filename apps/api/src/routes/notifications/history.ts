import {
  ENV_SENDER_ID,
  fieldError,
  type HistoryQuery,
  historyPage,
  historyQuery,
  type MessageDocument,
  normalizePathPhone,
  normalizePhone,
  toView,
} from '@herald/shared';
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { anyRole, type Principal } from '../../plugins/auth.ts';
import { pendingMessages } from '../../services/pending-messages.ts';
import { errorResponses } from '../schemas.ts';

const dayMs = 86_400_000;

interface Cursor {
  c: number; // created_at, ms
  i: string; // _id
}

const encodeCursor = (doc: MessageDocument) =>
  Buffer.from(JSON.stringify({ c: doc.created_at.getTime(), i: doc._id } satisfies Cursor)).toString('base64url');

function decodeCursor(value: string): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Cursor;
    if (typeof parsed.c === 'number' && typeof parsed.i === 'string') return parsed;
  } catch {}
  throw fieldError('cursor', 'not a cursor this API issued');
}

/**
 * Newest first. `from`/`to` override `days`: the window is [from ?? (to ?? now) − days, to ?? now].
 * A cursor continues after the last item of the previous page, stable under inserts; `skip` is for
 * shallow pages only.
 */
async function findHistory(app: FastifyInstance, principal: Principal, q: HistoryQuery, phone?: string) {
  const to = q.to ? new Date(q.to) : new Date();
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - q.days * dayMs);
  if (from > to) throw fieldError('from', 'is after to');
  let after: { created_at: Date; id: string } | undefined;
  if (q.cursor) {
    if (q.skip > 0) throw fieldError('skip', 'cannot be combined with cursor');
    const cursor = decodeCursor(q.cursor);
    after = { created_at: new Date(cursor.c), id: cursor.i };
  }
  const filter = {
    tenant: principal.allTenants ? q.tenant : principal.tenant,
    phone,
    reference_id: q.reference_id,
    status: q.status,
    message_type: q.message_type,
    sender: q.sender,
    from,
    to,
  };
  // Accepted but not written yet (their accept jobs wait): merged in as the store would order
  // them. They are the newest messages, so the store's page is fetched as if they came first.
  const pending = (await pendingMessages(app, { tenant: filter.tenant })).filter((m) => matches(m, filter));
  const written = new Set<string>();
  const storeSkip = after ? 0 : Math.max(0, q.skip - pending.length);
  const page = await app.store.messages.historyPage({ ...filter, after, skip: storeSkip, limit: q.limit + (q.skip - storeSkip) });
  for (const m of page.items) written.add(m._id);
  const waiting = pending.filter((m) => !written.has(m._id));
  const olderThanCursor = (m: MessageDocument) =>
    !after || m.created_at < after.created_at || (m.created_at.getTime() === after.created_at.getTime() && m._id < after.id);
  const merged = [...waiting.filter(olderThanCursor), ...page.items].sort(newestFirst);
  const start = after ? 0 : q.skip - storeSkip;
  const items = merged.slice(start, start + q.limit);
  const total = page.total + waiting.length;
  const last = items.at(-1);
  return {
    items: items.map(toView),
    total,
    limit: q.limit,
    skip: q.skip,
    next_cursor: items.length === q.limit && last ? encodeCursor(last) : null,
  };
}

const newestFirst = (a: MessageDocument, b: MessageDocument) =>
  b.created_at.getTime() - a.created_at.getTime() || (a._id < b._id ? 1 : a._id > b._id ? -1 : 0);

/** Whether a message not yet in history matches a history filter (what the store's query does). */
function matches(
  m: MessageDocument,
  f: {
    phone?: string | undefined;
    reference_id?: string | undefined;
    status?: string | undefined;
    message_type?: string | undefined;
    sender?: string | undefined;
    from: Date;
    to: Date;
  },
): boolean {
  return (
    (!f.phone || m.phone === f.phone) &&
    (!f.reference_id || m.reference_id === f.reference_id) &&
    (!f.status || m.status === f.status) &&
    (!f.message_type || m.message_type === f.message_type) &&
    (!f.sender || (m.sender ?? ENV_SENDER_ID) === f.sender) &&
    m.created_at >= f.from &&
    m.created_at <= f.to
  );
}

const route: FastifyPluginAsyncZod = async (app) => {
  const schema = {
    tags: ['history'],
    response: { 200: historyPage, ...errorResponses },
  };

  app.get(
    '/history',
    { preHandler: app.authorize(anyRole), schema: { ...schema, summary: 'Message history, newest first', querystring: historyQuery } },
    async (request) => {
      const q = request.query;
      let phone: string | undefined;
      if (q.phone) {
        // An unencoded `+` in a query string arrives as a space: try it as international too.
        phone = normalizePhone(q.phone, app.config.DEFAULT_COUNTRY) ?? normalizePhone(`+${q.phone.trim()}`, app.config.DEFAULT_COUNTRY);
        if (!phone) throw fieldError('phone', 'not a valid phone number');
      }
      return findHistory(app, request.principal, q, phone);
    },
  );

  app.get(
    '/history/:phone',
    {
      preHandler: app.authorize(anyRole),
      schema: {
        ...schema,
        summary: "One recipient's history",
        params: z.object({ phone: z.string().min(1).max(40) }),
        querystring: historyQuery.omit({ phone: true }),
      },
    },
    async (request) => {
      const phone = normalizePathPhone(request.params.phone, app.config.DEFAULT_COUNTRY);
      if (!phone) throw fieldError('phone', 'not a valid phone number');
      return findHistory(app, request.principal, request.query, phone);
    },
  );
};

export default route;
