import { existsSync, mkdirSync } from 'node:fs';
import { jobNames, sendJobOptions } from '@herald/shared';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, uniquePhone } from './stack.ts';

let stack: Stack;
const artifacts = new URL('../../../test-artifacts/', import.meta.url).pathname;

beforeAll(async () => {
  // No worker: the jobs stay in the send queue for the board to show.
  stack = await startStack({ worker: false });
});
afterAll(() => stack?.close());

const origin = () => new URL(stack.apiUrl).origin;

async function login(token: string, headers: Record<string, string> = {}) {
  return stack.api.inject({
    method: 'POST',
    url: '/admin/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: origin(), host: new URL(stack.apiUrl).host, ...headers },
    payload: `token=${encodeURIComponent(token)}`,
  });
}

describe('dashboard sign-in and protection', () => {
  it('turns an admin token into a short-lived HttpOnly, SameSite=Strict cookie; Secure when the request is HTTPS', async () => {
    const res = await login(stack.token('admin'));
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/admin/queues/');
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^herald_admin=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    // One session for the queues and the console (/console).
    expect(cookie).toMatch(/Path=\/;/);
    expect(cookie).toMatch(/Max-Age=900/);
    expect(cookie).not.toMatch(/Secure/);
    const behindTls = await login(stack.token('admin'), { 'x-forwarded-proto': 'https', origin: `https://${new URL(stack.apiUrl).host}` });
    expect(String(behindTls.headers['set-cookie'])).toMatch(/Secure/);
  });

  it('turns away non-admin, bad and expired tokens, and a sign-in posted from another site', async () => {
    expect((await login(stack.token('viewer'))).statusCode).toBe(403);
    expect((await login(stack.token('service'))).statusCode).toBe(403);
    expect((await login('not-a-token')).statusCode).toBe(401);
    expect((await login(stack.token('admin', undefined, -1000))).statusCode).toBe(401);
    expect((await login(stack.token('admin'), { origin: 'https://evil.example' })).statusCode).toBe(403);
  });

  it('the board needs a session or an admin bearer token; a raw API token in the cookie is not a session', async () => {
    const anon = await stack.api.inject({ method: 'GET', url: '/admin/queues/' });
    expect(anon.statusCode).toBe(302);
    expect(anon.headers.location).toBe('/admin/login');
    expect((await stack.api.inject({ method: 'GET', url: '/admin/queues/api/queues' })).statusCode).toBe(401);
    const viewer = await stack.api.inject({
      method: 'GET',
      url: '/admin/queues/api/queues',
      headers: { authorization: `Bearer ${stack.token('viewer')}` },
    });
    expect(viewer.statusCode).toBe(403);
    const admin = await stack.api.inject({
      method: 'GET',
      url: '/admin/queues/api/queues',
      headers: { authorization: `Bearer ${stack.token('admin')}` },
    });
    expect(admin.statusCode).toBe(200);
    const raw = await stack.api.inject({
      method: 'GET',
      url: '/admin/queues/api/queues',
      cookies: { herald_admin: stack.token('admin') },
    });
    expect(raw.statusCode).toBe(401);
  });

  it('refuses cookie-authenticated writes from another origin or without one (CSRF), accepts them from its own', async () => {
    const cookie = String((await login(stack.token('admin'))).headers['set-cookie']).split(';')[0] as string;
    const pause = (headers: Record<string, string>) =>
      stack.api.inject({
        method: 'PUT',
        url: '/admin/queues/api/queues/status/pause',
        headers: { cookie, host: new URL(stack.apiUrl).host, ...headers },
      });
    expect((await pause({ origin: 'https://evil.example' })).statusCode).toBe(403);
    expect((await pause({})).statusCode).toBe(403);
    expect((await pause({ referer: 'https://evil.example/page' })).statusCode).toBe(403);
    expect(await stack.queues.status.isPaused()).toBe(false);
    const ok = await pause({ origin: origin() });
    expect(ok.statusCode).toBe(200);
    expect(await stack.queues.status.isPaused()).toBe(true);
    await stack.queues.status.resume();
  });
});

const chromiumPath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
if (!chromiumPath) {
  console.warn(
    '\n\n*** WARNING: no Chromium found (CHROMIUM_PATH, /usr/bin/chromium): the dashboard browser test is SKIPPED. Run `bash scripts/test.sh`, which installs it. ***\n\n',
  );
}

describe.skipIf(!chromiumPath)('dashboard in headless Chromium', () => {
  it('an admin signs in through the form and sees the send queue with its jobs; a viewer is turned away', async () => {
    const phone = uniquePhone();
    for (let i = 0; i < 3; i++) {
      const id = `msg_board${i}${Date.now()}`;
      await stack.queues.send.add(
        jobNames.send,
        {
          v: 1,
          id,
          tenant: 'default',
          phone,
          message_type: 'delivery_reminder',
          context: { customer_name: 'Asha', delivery_date: '2026-02-01' },
          expires_at: null,
          queued_at: new Date().toISOString(),
        },
        sendJobOptions(stack.config, id, 0),
      );
    }
    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${stack.apiUrl}/admin/queues/`);
      expect(new URL(page.url()).pathname).toBe('/admin/login');
      await page.fill('#token', stack.token('admin'));
      await page.click('button[type=submit]');
      await page.waitForURL(/\/admin\/queues\/?$/, { timeout: 20_000 });
      const cookies = await context.cookies();
      expect(cookies.find((c) => c.name === 'herald_admin')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

      await page.goto(`${stack.apiUrl}/admin/queues/queue/send?status=waiting`);
      await page.getByText('Herald').first().waitFor({ timeout: 20_000 });
      // The job list shows our jobs (names are "send", ids are ours).
      await page
        .getByText(/msg_board0/)
        .first()
        .waitFor({ timeout: 20_000 });
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: `${artifacts}bull-board-send-queue.png`, fullPage: true });

      // A viewer's token is turned away at the form, and no session is made.
      const other = await browser.newContext();
      const viewerPage = await other.newPage();
      await viewerPage.goto(`${stack.apiUrl}/admin/login`);
      await viewerPage.fill('#token', stack.token('viewer'));
      await viewerPage.click('button[type=submit]');
      await viewerPage.getByRole('alert').waitFor({ timeout: 20_000 });
      expect(await viewerPage.getByRole('alert').textContent()).toMatch(/Only admin/);
      expect((await other.cookies()).find((c) => c.name === 'herald_admin')).toBeUndefined();
      await viewerPage.goto(`${stack.apiUrl}/admin/queues/`);
      expect(new URL(viewerPage.url()).pathname).toBe('/admin/login');
    } finally {
      await browser.close();
    }
  });
});
