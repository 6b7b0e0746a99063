import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reminder, sendSurely } from '../helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from '../stack.ts';

// CI-sized soak: 500 messages through Meta's simulator with 20 % transient faults (15 % Meta
// 131000, 5 % timeouts: the simulator takes the message and answers too late) and a burst of 30
// bare 429s at the start. Run twice (issue 14): with the status webhooks delivered, a timed-out
// send is proved by its webhook and never sent again (0 accepted twice); with the timed-out sends'
// webhooks dropped, each one whose retry succeeded is with the provider twice — counted, and
// never more than the timeouts.
const total = 500;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: {
      RETRY_BASE_DELAY_MS: '100',
      PROVIDER_TIMEOUT_MS: '800',
      UNKNOWN_OUTCOME_WAIT_MS: '3000',
      WORKER_CONCURRENCY: '50',
      PROVIDER_MPS: '1000',
      WORKER_LOCK_MS: '30000',
      // 20 % transient faults make runs of five in a row likely over 500 sends; this soak is about
      // retries and unknown outcomes, the breaker has its own test.
      BREAKER_FAILURES: '1000',
    },
    webhookDelaysMs: { sent: 100, delivered: 150, read: 200 },
  });
});
afterAll(() => stack?.close());

interface SimRequest {
  to: string | null;
  outcome: string;
}

const runs = [
  { webhooks: 'delivered', faultWebhooks: { statuses: ['sent'] } },
  { webhooks: 'dropped for timed-out sends', faultWebhooks: { statuses: ['sent'], timed_out: false } },
] as const;

describe.each(runs)('soak, webhooks $webhooks', ({ webhooks, faultWebhooks }) => {
  it(`${total} messages with transient faults and a burst of 429s: each ends sent, or failed after exactly 3 attempts; none lost`, async () => {
    await stack.faults({
      script: Array.from({ length: 30 }, () => ({ http_429: true, retry_after_s: 1 })),
      error_rates: { '131000': 0.15 },
      timeout_rate: 0.05,
      timeout_ms: 2000,
      webhooks: faultWebhooks,
    });
    const phones = Array.from({ length: total }, () => uniquePhone());
    const ids: string[] = [];
    for (let i = 0; i < total; i += 25) {
      const batch = await Promise.all(
        phones
          .slice(i, i + 25)
          .map((phone) => sendSurely(stack, reminder(phone, { immediate: false, idempotency_key: `soak:${webhooks}:${phone}` }))),
      );
      for (const res of batch) {
        expect(res.status).toBe(202);
        ids.push(res.body.id);
      }
    }

    await waitFor(async () => (await stack.store.messages.count({ ids, status: ['sent', 'failed'] })) === total, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'every message final',
    });

    const docs = await stack.store.messages.list({ ids });
    expect(docs).toHaveLength(total);
    const sim = (await (await fetch(`${stack.sim.url}/_sim/messages`)).json()) as { requests: SimRequest[] };
    const mine = new Set(phones.map((p) => p.replace(/\D/g, '')));
    const byPhone = new Map<string, SimRequest[]>();
    for (const r of sim.requests) if (r.to && mine.has(r.to.replace(/\D/g, ''))) byPhone.set(r.to, [...(byPhone.get(r.to) ?? []), r]);

    let failed = 0;
    let hiddenAcceptances = 0;
    let throttled = 0;
    let attemptGap = 0;
    for (const doc of docs) {
      const requests = byPhone.get(doc.phone) ?? [];
      const attemptsUsed = requests.filter((r) => r.outcome !== '429');
      throttled += requests.length - attemptsUsed.length;
      // Not asserted, reported: a request Herald gave up on (timeout) may never have reached the
      // simulator, and an answer whose history write failed (database briefly unavailable) is
      // retried without using an attempt, so attempts and requests can differ by those.
      attemptGap += Math.abs(doc.attempts - attemptsUsed.length);
      if (doc.status === 'failed') {
        failed++;
        expect(doc.attempts).toBe(3);
      } else {
        expect(doc.status).toBe('sent');
        // The last request was taken: answered, or timed out and proved by its webhook.
        expect(attemptsUsed.at(-1)?.outcome).toMatch(/^(accepted|timeout)$/);
      }
      // Accepted at most once, except where a timeout hid an earlier acceptance from Herald.
      const acceptances = requests.filter((r) => r.outcome === 'accepted' || r.outcome === 'timeout').length;
      // Herald's own timeouts: the simulator's timeout faults, and requests that reached it after
      // Herald gave up on a loaded machine.
      const timeouts = doc.events.filter((e) => e.detail?.startsWith('timeout:')).length;
      const extra = doc.status === 'failed' ? acceptances : acceptances - 1;
      expect(extra).toBeLessThanOrEqual(timeouts);
      hiddenAcceptances += Math.max(0, extra);
    }
    expect(throttled).toBe(30);
    // Issue 14's goal: with the webhooks delivered, no message is with the provider twice.
    if (webhooks === 'delivered') expect(hiddenAcceptances).toBe(0);
    console.log(
      `soak (webhooks ${webhooks}): ${total} messages, ${total - failed} sent, ${failed} failed after 3 attempts, ${throttled} 429s (no attempt used), ` +
        `${hiddenAcceptances} accepted twice by the simulator (a timed-out send not proved by a webhook, then retried), ` +
        `${attemptGap} attempts that differ from the simulator's count (timeouts unseen by it, database hiccups)`,
    );
  });
});
