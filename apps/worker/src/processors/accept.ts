import {
  type AcceptJob,
  acceptJob,
  Batcher,
  type Config,
  jobNames,
  type MessageStatus,
  recordFromJson,
  type SendJob,
  sendJobOptions,
} from '@herald/shared';
import { DuplicateRecordError, isStoreError, type Store } from '@herald/store';
import { DelayedError, type Job, type JobsOptions, type Queue, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';

export interface AcceptDeps {
  config: Config;
  /** History: the records are written through it, in batches. */
  store: Store;
  /** Where a written message's send job goes. */
  sendQueue: Queue<SendJob>;
  log: Logger;
}

const pending: MessageStatus[] = ['scheduled', 'queued'];

/**
 * How long an unavailable database delays an accept job, without using an attempt, in ms: capped
 * at 5 s so that history fills promptly once the database is back (a delayed job costs nothing).
 */
const infraDelayMs = (n: number) => Math.min(500 * 2 ** n, 5_000);

/**
 * Writes accepted messages to history and queues their sends (SPEC 1: the API answers once the
 * accept job is in Redis). The jobs a worker holds at once are written together: the store
 * coalesces concurrent inserts into one insertMany, and their sends go as one addBulk. Only after
 * the record is written is the send queued — a scheduled one delayed to its send_at — so history
 * always holds a message before anything happens to it. While the database is away a job waits
 * (growing delays, no attempt used) and nothing is lost: the job stays in Redis.
 */
export function createAcceptProcessor(deps: AcceptDeps) {
  const { config, store, sendQueue, log } = deps;
  const sends = new Batcher<{ name: string; data: SendJob; opts: JobsOptions }, undefined>(async (jobs) => {
    await sendQueue.addBulk(jobs);
    return jobs.map(() => undefined);
  });

  return async function processAccept(job: Job<AcceptJob>, token?: string): Promise<string> {
    const parsed = acceptJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('job payload is not a v1 accept job');
    const record = recordFromJson(parsed.data.record);
    try {
      await store.messages.insert(record);
    } catch (err) {
      if (err instanceof DuplicateRecordError) {
        // Written by an earlier run of this job, or cancelled before it was written: queue the
        // send only if the message is still waiting for one (a send never goes twice: the send
        // job's id is the message id, and a sent message is no longer pending).
        const current = await store.messages.get(record._id);
        if (!current || !pending.includes(current.status)) return 'already recorded';
      } else if (isStoreError(err)) {
        const n = (job.data as AcceptJob & { infra_delays?: number }).infra_delays ?? 0;
        if (n === 0 || n % 10 === 0)
          log.warn({ id: record._id, err: (err as Error).message }, 'database unavailable: accepted message waits');
        await job.updateData({ ...job.data, infra_delays: n + 1 } as AcceptJob);
        await job.moveToDelayed(Date.now() + infraDelayMs(n), token);
        throw new DelayedError();
      } else {
        throw err;
      }
    }
    const send = parsed.data.send;
    if (!send) return 'recorded';
    const delayMs = record.status === 'scheduled' && record.send_at ? Math.max(0, record.send_at.getTime() - Date.now()) : 0;
    await sends.add({ name: jobNames.send, data: send, opts: sendJobOptions(config, record._id, delayMs) });
    return 'recorded';
  };
}
