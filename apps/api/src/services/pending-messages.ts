import { type MessageDocument, recordFromJson } from '@herald/shared';
import { isStoreUnavailable, type Scope } from '@herald/store';
import type { FastifyInstance } from 'fastify';

/**
 * Messages accepted but not yet written to history: their `accept` jobs still wait in Redis
 * (normally for milliseconds; for as long as the database is away). Reads answer from them so a
 * caller finds a message the moment it is accepted (SPEC 1).
 */

/** How many waiting accept jobs one read looks through (they are newest first). */
const pendingScanLimit = 1000;

const inScope = (doc: MessageDocument, scope: Scope) => scope.tenant === undefined || doc.tenant === scope.tenant;

/** The record of an accept job that has not been written yet, if there is one. */
export async function pendingMessage(app: FastifyInstance, id: string, scope: Scope = {}): Promise<MessageDocument | null> {
  const job = await app.queues.accept.getJob(id);
  if (!job?.data?.record) return null;
  const doc = recordFromJson(job.data.record);
  return inScope(doc, scope) ? doc : null;
}

/**
 * A message from history, else from its accept job. While the database is away the job answers
 * (its record as accepted); when neither has it, null.
 */
export async function findMessage(app: FastifyInstance, id: string, scope: Scope = {}): Promise<MessageDocument | null> {
  try {
    const doc = await app.store.messages.get(id, scope);
    if (doc) return doc;
  } catch (err) {
    if (!isStoreUnavailable(err)) throw err;
    const pending = await pendingMessage(app, id, scope);
    if (pending) return pending;
    throw err;
  }
  return pendingMessage(app, id, scope);
}

/** Records of the accept jobs still waiting, newest first (at most `pendingScanLimit`). */
export async function pendingMessages(app: FastifyInstance, scope: Scope): Promise<MessageDocument[]> {
  const jobs = await app.queues.accept.getJobs(['waiting', 'prioritized', 'delayed'], 0, pendingScanLimit - 1, false);
  return jobs
    .filter((j) => j?.data?.record)
    .map((j) => recordFromJson(j.data.record))
    .filter((doc) => inScope(doc, scope))
    .sort((a, b) => b.created_at.getTime() - a.created_at.getTime() || (a._id < b._id ? 1 : -1));
}
