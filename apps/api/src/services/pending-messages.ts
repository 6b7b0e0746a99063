import { type MessageDocument, recordFromJson } from '@herald/shared';
import { isStoreUnavailable, type Scope } from '@herald/store';
import type { JobType, Queue } from 'bullmq';
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

/**
 * Records of the accept jobs to one phone still waiting or being written right now (looking
 * through at most `limit` jobs: an erasure looks through a whole outage's backlog).
 */
export async function acceptingFor(app: FastifyInstance, phone: string, limit: number): Promise<MessageDocument[]> {
  return (await acceptRecords(app, ['active', 'waiting', 'prioritized', 'delayed'], limit)).filter((doc) => doc.phone === phone);
}

async function acceptRecords(app: FastifyInstance, states: JobType[], limit = pendingScanLimit): Promise<MessageDocument[]> {
  const jobs = await app.queues.accept.getJobs(states, 0, limit - 1, false);
  return jobs.filter((j) => j?.data?.record).map((j) => recordFromJson(j.data.record));
}

/**
 * Waits while a worker holds job `id` of `queue` (normally milliseconds). The job's state after,
 * undefined when there is no such job; still `active` only after `timeoutMs`.
 */
export async function settledState(queue: Queue, id: string, timeoutMs: number): Promise<string | undefined> {
  const until = Date.now() + timeoutMs;
  let state = await queue.getJobState(id);
  while (state === 'active' && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 25));
    state = await queue.getJobState(id);
  }
  return state === 'unknown' ? undefined : state;
}

/**
 * Waits while a worker holds a message's accept job: it writes the record, then queues the send,
 * and until both are done a cancel or an erasure cannot see the whole message (the record may be
 * written with no send job yet). See settledState.
 */
export function acceptSettled(app: FastifyInstance, id: string, timeoutMs = 3_000): Promise<string | undefined> {
  return settledState(app.queues.accept, id, timeoutMs);
}

/** Records of the accept jobs still waiting, newest first (at most `pendingScanLimit`). */
export async function pendingMessages(app: FastifyInstance, scope: Scope): Promise<MessageDocument[]> {
  return (await acceptRecords(app, ['waiting', 'prioritized', 'delayed']))
    .filter((doc) => inScope(doc, scope))
    .sort((a, b) => b.created_at.getTime() - a.created_at.getTime() || (a._id < b._id ? 1 : -1));
}
