import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions, maskUrl } from '../src/index.ts';

describe('log redaction', () => {
  it('masks phone numbers in URLs, however the + is written', () => {
    for (const url of [
      '/api/notifications/history/+919876543210',
      '/api/notifications/history/%2B919876543210',
      '/api/notifications/history/919876543210',
      '/api/notifications/history?phone=9876543210',
    ]) {
      const masked = maskUrl(url);
      expect(masked).not.toMatch(/\d{5,}/);
      expect(masked).toContain('/api/notifications/history');
    }
  });

  it('blanks the webhook verify token and other secret parameters', () => {
    const masked = maskUrl('/api/v1/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=s3cr3t-value&hub.challenge=42');
    expect(masked).not.toContain('s3cr3t-value');
    expect(masked).toContain('hub.challenge=42');
  });

  it('a logged request carries neither its bearer token nor the phone in its URL', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const log = pino(loggerOptions('info', 'test'), sink);
    log.info(
      { req: { method: 'GET', url: '/api/notifications/history/+919876543210', headers: { authorization: 'Bearer abc.def.ghi' } } },
      'incoming request',
    );
    expect(out).not.toContain('abc.def.ghi');
    expect(out).not.toContain('9876543210');
    expect(out).toContain('incoming request');
  });
});
