import { type CallbackJob, callbackJob, signCallback } from '@herald/shared';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';

export interface CallbackDeps {
  secret: string;
  timeoutMs: number;
  log: Logger;
}

/**
 * POSTs one status change to the message's callback_url, signed with CALLBACK_SECRET. Any answer
 * but 2xx (or no answer within the time limit) throws, and BullMQ retries with backoff; the
 * message itself is never touched, so a dead receiver costs only its own queue's retries.
 */
export function createCallbackProcessor(deps: CallbackDeps) {
  return async function processCallback(job: Job<CallbackJob>): Promise<number> {
    const parsed = callbackJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('job payload is not a v1 callback job');
    const { url, payload } = parsed.data;
    const body = JSON.stringify(payload);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Herald-Callback/1',
          'x-herald-signature': signCallback(deps.secret, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(deps.timeoutMs),
      });
    } catch (err) {
      throw new Error(`callback for ${payload.id} not delivered: ${(err as Error).message}`);
    }
    await res.body?.cancel().catch(() => undefined);
    if (res.status < 200 || res.status >= 300) {
      deps.log.debug({ id: payload.id, status: res.status, host: new URL(url).host }, 'callback refused');
      throw new Error(`callback for ${payload.id} answered ${res.status}`);
    }
    return res.status;
  };
}
