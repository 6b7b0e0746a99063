import { describe, expect, it } from 'vitest';
import { parseMetaTemplateEvents } from '../src/index.ts';

const body = (field: string, value: Record<string, unknown>, time = 1767225600) => ({
  object: 'whatsapp_business_account',
  entry: [{ id: '100000000000001', time, changes: [{ field, value }] }],
});
const ids = { message_template_id: 1689556908129832, message_template_name: 'order_confirmation', message_template_language: 'en_US' };

describe("Meta's template webhooks", () => {
  it('a status update names the status, Meta reason and category, dated at the end of its second', () => {
    const { changes, resync } = parseMetaTemplateEvents(
      body('message_template_status_update', {
        ...ids,
        event: 'REJECTED',
        reason: 'INCORRECT_CATEGORY',
        message_template_category: 'MARKETING',
      }),
    );
    expect(resync).toBe(false);
    expect(changes).toEqual([
      {
        name: 'order_confirmation',
        language: 'en_US',
        at: new Date(1767225600_999),
        status: { status: 'REJECTED', reason: 'INCORRECT_CATEGORY', category: 'MARKETING' },
        provider_id: '1689556908129832',
      },
    ]);
  });

  it("a pause's reason is NONE: what happened comes from other_info; REINSTATED means APPROVED", () => {
    const paused = parseMetaTemplateEvents(
      body('message_template_status_update', {
        ...ids,
        event: 'PAUSED',
        reason: 'NONE',
        other_info: { title: 'FIRST_PAUSE', description: 'Paused for 3 hours' },
      }),
    );
    expect(paused.changes[0]?.status).toMatchObject({ status: 'PAUSED', reason: 'Paused for 3 hours' });
    const back = parseMetaTemplateEvents(body('message_template_status_update', { ...ids, event: 'REINSTATED', reason: 'NONE' }));
    expect(back.changes[0]?.status).toMatchObject({ status: 'APPROVED', reason: null });
  });

  it('an event that does not name the new status (FLAGGED, UNARCHIVED, LOCKED) asks for a sync instead', () => {
    for (const event of ['FLAGGED', 'UNARCHIVED', 'LOCKED']) {
      expect(parseMetaTemplateEvents(body('message_template_status_update', { ...ids, event, reason: 'NONE' }))).toEqual({
        changes: [],
        resync: true,
      });
    }
  });

  it('a quality update carries only the quality', () => {
    const { changes } = parseMetaTemplateEvents(
      body('message_template_quality_update', { ...ids, previous_quality_score: 'GREEN', new_quality_score: 'YELLOW' }),
    );
    expect(changes).toEqual([
      { name: 'order_confirmation', language: 'en_US', at: new Date(1767225600_999), quality: 'YELLOW', provider_id: '1689556908129832' },
    ]);
  });

  it('message statuses and other bodies carry no template events', () => {
    expect(parseMetaTemplateEvents(body('messages', { statuses: [{ id: 'wamid.x', status: 'sent', timestamp: '1' }] }))).toEqual({
      changes: [],
      resync: false,
    });
    expect(parseMetaTemplateEvents({ nope: true })).toEqual({ changes: [], resync: false });
    expect(parseMetaTemplateEvents(body('message_template_status_update', { event: 'APPROVED' }))).toEqual({ changes: [], resync: false });
  });
});
