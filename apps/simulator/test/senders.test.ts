import { describe, expect, it } from 'vitest';
import { ACCESS_TOKEN, control, PHONE_NUMBER_ID, send, textMessage, useHarness, verifySignature, waitFor } from './helpers.ts';

const h = useHarness();

const second = { provider: 'meta', phone_number_id: '200000000000009', access_token: 'second-token', app_secret: 'second-app-secret' };
const twilioAccount = { provider: 'twilio', account_sid: `AC${'b'.repeat(32)}`, auth_token: 'second-twilio-token', from: '+14155550002' };

const basic = (sid: string, token: string) => `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;

describe('several senders', () => {
  it('a Meta number added through /_sim/senders takes its own token, and its webhooks name it and are signed with its own secret', async () => {
    expect((await control(h.sim, 'POST', '/_sim/senders', second)).status).toBe(201);
    const url = `${h.sim.url}/v24.0/${second.phone_number_id}/messages`;
    expect((await send(url, textMessage('+919876500001'), ACCESS_TOKEN)).status).toBe(401);
    const accepted = await send(url, textMessage('+919876500001'), second.access_token);
    expect(accepted.status).toBe(200);
    const id = accepted.body.messages[0].id;
    const mine = () => h.herald.received.filter((w) => w.json.entry[0].changes[0].value.statuses?.[0]?.id === id);
    await waitFor(() => mine().length === 3, 10_000, 'three status webhooks');
    for (const webhook of mine()) {
      expect(webhook.json.entry[0].changes[0].value.metadata.phone_number_id).toBe(second.phone_number_id);
      expect(verifySignature(webhook.raw, webhook.signature, second.app_secret)).toBe(true);
      expect(webhook.signatureValid).toBe(false); // not the default app secret
    }
    // The configured number is unchanged: its own token, its own secret.
    const first = await send(h.sendUrl, textMessage('+919876500002'));
    expect(first.status).toBe(200);
    const firstId = first.body.messages[0].id;
    await waitFor(() => h.herald.received.some((w) => w.json.entry[0].changes[0].value.statuses?.[0]?.id === firstId), 10_000, 'a webhook');
    const firstHook = h.herald.received.find((w) => w.json.entry[0].changes[0].value.statuses?.[0]?.id === firstId);
    expect(firstHook?.signatureValid).toBe(true);
    expect(firstHook?.json.entry[0].changes[0].value.metadata.phone_number_id).toBe(PHONE_NUMBER_ID);
  });

  it('an inbound message names the number it was sent to (by default the one the answered message came from), signed with its secret', async () => {
    await control(h.sim, 'POST', '/_sim/senders', second);
    const direct = await control(h.sim, 'POST', '/_sim/inbound', { from: '+919876500003', text: 'STOP', sender: second.phone_number_id });
    expect(direct.body.posted.entry[0].changes[0].value.metadata.phone_number_id).toBe(second.phone_number_id);
    const hook = h.herald.received.at(-1);
    expect(hook && verifySignature(hook.raw, hook.signature, second.app_secret)).toBe(true);

    const sent = await send(`${h.sim.url}/v24.0/${second.phone_number_id}/messages`, textMessage('+919876500004'), second.access_token);
    const reply = await control(h.sim, 'POST', '/_sim/inbound', { reply_to: sent.body.messages[0].id, text: 'thanks' });
    expect(reply.body.posted.entry[0].changes[0].value.metadata.phone_number_id).toBe(second.phone_number_id);

    const plain = await control(h.sim, 'POST', '/_sim/inbound', { from: '+919876500005', text: 'hi' });
    expect(plain.body.posted.entry[0].changes[0].value.metadata.phone_number_id).toBe(PHONE_NUMBER_ID);
  });

  it('a Twilio account added through /_sim/senders takes its own credentials and its inbound messages name it', async () => {
    expect((await control(h.sim, 'POST', '/_sim/senders', twilioAccount)).status).toBe(201);
    const url = `${h.sim.url}/2010-04-01/Accounts/${twilioAccount.account_sid}/Messages.json`;
    const form = new URLSearchParams({ To: 'whatsapp:+919876500006', From: `whatsapp:${twilioAccount.from}`, Body: 'hello' });
    const post = (auth: string) =>
      fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    expect((await post(basic(twilioAccount.account_sid, 'sim-twilio-auth-token'))).status).toBe(401);
    const accepted = await post(basic(twilioAccount.account_sid, twilioAccount.auth_token));
    expect(accepted.status).toBe(201);
    expect(((await accepted.json()) as { account_sid: string }).account_sid).toBe(twilioAccount.account_sid);
    const inbound = await control(h.sim, 'POST', '/_sim/inbound', {
      provider: 'twilio',
      from: '+919876500006',
      text: 'hi',
      sender: twilioAccount.account_sid,
    });
    expect(inbound.body.posted).toMatchObject({ AccountSid: twilioAccount.account_sid, To: `whatsapp:${twilioAccount.from}` });
  });

  it('lists added senders by id only, refuses a bad one naming the field, and forgets them on DELETE', async () => {
    await control(h.sim, 'POST', '/_sim/senders', second);
    const listed = await control(h.sim, 'GET', '/_sim/senders');
    expect(listed.body.meta).toContain(second.phone_number_id);
    expect(JSON.stringify(listed.body)).not.toContain(second.app_secret);
    const bad = await control(h.sim, 'POST', '/_sim/senders', { ...second, phone_number_id: 'abc' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'invalid_sender', field: 'phone_number_id' });
    expect((await control(h.sim, 'DELETE', '/_sim/senders')).body).toEqual({ meta: [], twilio: [], myoperator: [] });
    const refused = await send(`${h.sim.url}/v24.0/${second.phone_number_id}/messages`, textMessage('+919876500007'), second.access_token);
    expect(refused.status).toBe(401);
  });
});
