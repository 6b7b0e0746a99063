import { beforeEach, describe, expect, it } from 'vitest';
import { ACCESS_TOKEN, control, type Json, type receivedAt, send, useHarness } from './helpers.ts';

const h = useHarness();
const waba = '100000000000001';

/** The template webhooks Herald got (a status webhook of an earlier test's send may still arrive). */
const ofTemplates = () => h.herald.received.filter((w) => String(w.json.entry[0].changes[0].field).startsWith('message_template'));

beforeEach(async () => {
  await control(h.sim, 'POST', '/_sim/templates/reset');
});

async function list(query = '', token = ACCESS_TOKEN, wabaId = waba): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${h.sim.url}/v24.0/${wabaId}/message_templates${query}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

const template = (name: string, language = 'en_US') => ({
  messaging_product: 'whatsapp',
  to: '+919876543210',
  type: 'template',
  template: { name, language: { code: language, policy: 'deterministic' } },
});

describe('GET /{version}/{waba-id}/message_templates', () => {
  it("lists Herald's default templates, approved in en and en_US, with the fields asked for", async () => {
    const res = await list('?fields=name,language,status,category,quality_score,rejected_reason&limit=100');
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(22);
    expect(res.body.data[0]).toEqual({
      id: expect.stringMatching(/^\d+$/),
      name: 'churn_risk',
      language: 'en',
      status: 'APPROVED',
      category: 'MARKETING',
      quality_score: { score: 'UNKNOWN', date: expect.any(Number) },
      rejected_reason: 'NONE',
    });
    expect(res.body.paging.next).toBeUndefined();
  });

  it('pages with cursors: paging.next while there is more, the after cursor gives the next page', async () => {
    const seen: string[] = [];
    let query = '?limit=5&fields=name,language';
    for (let i = 0; i < 10; i++) {
      const res = await list(query);
      seen.push(...res.body.data.map((t: Json) => `${t.name}/${t.language}`));
      if (!res.body.paging.next) break;
      expect(new URL(res.body.paging.next).searchParams.get('after')).toBe(res.body.paging.cursors.after);
      query = `?limit=5&fields=name,language&after=${res.body.paging.cursors.after}`;
    }
    expect(seen).toHaveLength(22);
    expect(new Set(seen).size).toBe(22);
  });

  it('answers Meta errors for a wrong token, another account, and a bad cursor', async () => {
    expect((await list('', 'wrong')).body.error.code).toBe(190);
    const other = await list('', ACCESS_TOKEN, '999');
    expect(other.status).toBe(400);
    expect(other.body.error).toMatchObject({ code: 100, error_subcode: 33 });
    expect((await list('?after=!!')).body.error.code).toBe(100);
  });
});

describe('/_sim/templates', () => {
  it('PUT changes a status and posts the signed status webhook; the send of a paused template is refused (132015)', async () => {
    const answer = await control(h.sim, 'PUT', '/_sim/templates/order_confirmation/en_US', { status: 'PAUSED', reason: 'Low quality' });
    expect(answer.status).toBe(200);
    expect(ofTemplates()).toHaveLength(1);
    const webhook = ofTemplates()[0] as ReturnType<typeof receivedAt>;
    expect(webhook.signatureValid).toBe(true);
    expect(webhook.json.entry[0]).toMatchObject({ id: waba, time: expect.any(Number) });
    expect(webhook.json.entry[0].changes[0]).toEqual({
      field: 'message_template_status_update',
      value: {
        event: 'PAUSED',
        message_template_id: expect.any(Number),
        message_template_name: 'order_confirmation',
        message_template_language: 'en_US',
        reason: 'NONE',
        other_info: { title: 'FIRST_PAUSE', description: 'Low quality' },
        message_template_category: 'UTILITY',
      },
    });
    expect((await send(h.sendUrl, template('order_confirmation'))).body.error.code).toBe(132015);
    // Another language of the same name, and templates the account does not hold, still go.
    expect((await send(h.sendUrl, template('order_confirmation', 'en'))).status).toBe(200);
    expect((await send(h.sendUrl, template('not_held_here'))).status).toBe(200);
    const listed = await list('?fields=name,status&limit=100');
    expect(listed.body.data.find((t: Json) => t.name === 'order_confirmation' && t.status === 'PAUSED')).toBeDefined();
  });

  it('PUT with a quality posts the quality webhook with the previous score; webhook:false posts nothing', async () => {
    await control(h.sim, 'PUT', '/_sim/templates/churn_risk/en', { quality: 'YELLOW' });
    expect(ofTemplates()[0]?.json.entry[0].changes[0]).toMatchObject({
      field: 'message_template_quality_update',
      value: { previous_quality_score: 'UNKNOWN', new_quality_score: 'YELLOW', message_template_name: 'churn_risk' },
    });
    await control(h.sim, 'PUT', '/_sim/templates/churn_risk/en', { status: 'DISABLED', webhook: false });
    expect(ofTemplates()).toHaveLength(1);
    expect((await send(h.sendUrl, template('churn_risk', 'en'))).body.error.code).toBe(132016);
  });

  it('POST adds many templates without webhooks; a bad body is a 400 naming the field', async () => {
    const added = await control(h.sim, 'POST', '/_sim/templates', {
      templates: [{ name: 'extra_one', language: 'hi', status: 'REJECTED', reason: 'SCAM' }],
    });
    expect(added.status).toBe(200);
    expect(h.herald.received).toHaveLength(0);
    const res = await list('?fields=name,status,rejected_reason&limit=100');
    expect(res.body.data.find((t: Json) => t.name === 'extra_one')).toMatchObject({ status: 'REJECTED', rejected_reason: 'SCAM' });
    const bad = await control(h.sim, 'PUT', '/_sim/templates/x/en', { status: 'paused' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('status');
  });
});
