import { existsSync, mkdirSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptReminder } from './helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

// The console at /console (issue 15) in Debian's Chromium: signed in through the queue dashboard's
// sign-in, it finds a number's messages, opens one, resends a failed one, edits a template and
// watches the preview change; a viewer sees but cannot resend. Every page is screenshotted under
// test-artifacts/console/, and no page asks for anything outside 127.0.0.1.

const artifacts = new URL('../../../test-artifacts/console/', import.meta.url).pathname;
const chromiumPath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
if (!chromiumPath) {
  console.warn(
    '\n\n*** WARNING: no Chromium found (CHROMIUM_PATH, /usr/bin/chromium): the console browser test is SKIPPED. Run `bash scripts/test.sh`, which installs it. ***\n\n',
  );
}

let stack: Stack;
let browser: Browser;
const outside: string[] = [];
beforeAll(async () => {
  stack = await startStack();
  if (chromiumPath) browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** A browser context signed in with a token of `role`; every request it makes is checked to stay on 127.0.0.1. */
async function signedIn(
  role: 'admin' | 'viewer',
  viewport = { width: 1280, height: 900 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  context.on('request', (r) => {
    const host = new URL(r.url()).hostname;
    if (host !== '127.0.0.1') outside.push(r.url());
  });
  const page = await context.newPage();
  await page.goto(`${stack.apiUrl}/console/messages`);
  expect(new URL(page.url()).pathname).toBe('/admin/login');
  await page.fill('#token', stack.token(role));
  await page.click('button[type=submit]');
  await page.waitForURL(/\/console\/messages$/, { timeout: 20_000 });
  return { context, page };
}

const shot = async (page: Page, name: string) => {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: `${artifacts}${name}.png`, fullPage: true });
};

describe.skipIf(!chromiumPath)('console in headless Chromium', () => {
  it('an admin finds a number, opens its failed message, resends it, and edits a template with a live preview', async () => {
    // One message sent, one that fails for good (131026: undeliverable).
    const phone = uniquePhone();
    await stack.faults({ script: [{ code: 131026, to: phone }] });
    const failedId = await acceptReminder(stack, phone);
    await waitFor(async () => (await stack.store.messages.get(failedId))?.status === 'failed', { what: 'the failed message' });
    const okId = await acceptReminder(stack, phone);
    await waitFor(async () => ['sent', 'delivered', 'read'].includes((await stack.store.messages.get(okId))?.status ?? ''), {
      what: 'the sent message',
    });

    const { context, page } = await signedIn('admin');
    const session = (await context.cookies()).find((c) => c.name === 'herald_admin');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    // No search runs until a filter is given (the whole history is a full read on FerretDB).
    expect(await page.locator('.count').textContent()).toContain('Find messages by');

    // Search by the number written another way (no +, spaces).
    const local = phone.replace('+', '').replace(/(\d{2})(\d{5})(\d+)/, '$1 $2 $3');
    await page.getByLabel('Phone (any format)').fill(local);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/phone=/);
    const rows = page.locator('table.list tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    await shot(page, 'messages-search');

    // The failed one: its timeline carries the provider's error; resend queues it again.
    await page.goto(`${stack.apiUrl}/console/messages/${failedId}`);
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    expect(await page.locator('.timeline').textContent()).toContain('131026');
    await shot(page, 'message-failed');
    await stack.faults({});
    await page.getByRole('button', { name: 'Resend' }).click();
    await page.getByRole('status').waitFor();
    expect(await page.getByRole('status').textContent()).toContain('Queued again');
    await waitFor(async () => ['sent', 'delivered', 'read'].includes((await stack.store.messages.get(failedId))?.status ?? ''), {
      what: 'the resent message to be sent',
    });
    await shot(page, 'message-resent');

    // A template: the preview follows the editor; a compile error shows inline.
    await page.goto(`${stack.apiUrl}/console/templates`);
    await shot(page, 'templates');
    await page.getByRole('link', { name: 'delivery_reminder' }).click();
    const preview = page.locator('#preview');
    await preview.locator('[data-preview="ok"]').waitFor();
    await page.getByLabel('Content (Handlebars)').fill('Hello {{customer_name}}, see you on {{delivery_date}}!');
    await expect.poll(async () => preview.textContent(), { timeout: 10_000 }).toContain('see you on <delivery_date>!');
    await page.getByLabel('Content (Handlebars)').fill('Hello {{#if customer_name}}');
    await preview.locator('[data-preview="error"]').waitFor();
    await shot(page, 'template-compile-error');
    await page.getByLabel('Content (Handlebars)').fill('Hi {{customer_name}}, your delivery is on {{delivery_date}}.');
    await preview.locator('[data-preview="ok"]').waitFor();
    await page.getByRole('button', { name: 'Save as a new version' }).click();
    await page.getByRole('status').waitFor();
    const saved = await stack.store.templates.get('delivery_reminder');
    expect(saved?.content).toBe('Hi {{customer_name}}, your delivery is on {{delivery_date}}.');
    await shot(page, 'template-saved');
    // Roll back to the version before.
    await page
      .getByRole('button', { name: new RegExp(`Roll back to v${(saved?.version ?? 2) - 1}`) })
      .first()
      .click();
    await page.getByRole('status').waitFor();
    expect((await stack.store.templates.get('delivery_reminder'))?.content).not.toBe(saved?.content);

    // Overview and senders.
    await page.goto(`${stack.apiUrl}/console`);
    await page.locator('#daily-chart canvas').first().waitFor();
    await shot(page, 'overview');
    // A delivery webhook has come back through the deployment's sender: the page says when.
    await waitFor(async () => ['delivered', 'read'].includes((await stack.store.messages.get(okId))?.status ?? ''), {
      what: 'the delivery webhook',
    });
    await page.goto(`${stack.apiUrl}/console/senders`);
    const senders = (await page.locator('table.list').textContent()) ?? '';
    expect(senders).toContain('closed');
    expect(await page.locator('table.list tbody tr').first().locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(senders).not.toContain(stack.config.META_ACCESS_TOKEN as string);
    await shot(page, 'senders');

    // Usable at 360 px: the overview in a phone-sized window.
    const small = await signedIn('admin', { width: 360, height: 740 });
    await small.page.goto(`${stack.apiUrl}/console`);
    await small.page.locator('#daily-chart canvas').first().waitFor();
    const overflow = Number(await small.page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(small.page, 'overview-360px');
    await small.context.close();
    await context.close();
  });

  it('a viewer sees a failed message but has no resend, and a forged resend is refused', async () => {
    const phone = uniquePhone();
    await stack.faults({ script: [{ code: 131026, to: phone }] });
    const id = await acceptReminder(stack, phone);
    await waitFor(async () => (await stack.store.messages.get(id))?.status === 'failed', { what: 'the failed message' });
    const { context, page } = await signedIn('viewer');
    await page.goto(`${stack.apiUrl}/console/messages/${id}`);
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    expect(await page.getByRole('button', { name: 'Resend' }).count()).toBe(0);
    await shot(page, 'message-as-viewer');
    // Posting the form anyway (same origin, the viewer's session): the API's own 403.
    const status = await page.evaluate(async (url) => (await fetch(url, { method: 'POST' })).status, `/console/messages/${id}/resend`);
    expect(status).toBe(403);
    expect((await stack.store.messages.get(id))?.status).toBe('failed');
    // A viewer session does not open the queues.
    await page.goto(`${stack.apiUrl}/admin/queues/`);
    expect(await page.textContent('body')).toContain('admins');
    await context.close();
  });

  it('a change from another site is refused, and nothing was requested outside 127.0.0.1', async () => {
    const phone = uniquePhone();
    await stack.faults({ script: [{ code: 131026, to: phone }] });
    const id = await acceptReminder(stack, phone);
    await waitFor(async () => (await stack.store.messages.get(id))?.status === 'failed', { what: 'the failed message' });
    const { context } = await signedIn('admin');
    const cookie = (await context.cookies()).find((c) => c.name === 'herald_admin');
    const res = await stack.api.inject({
      method: 'POST',
      url: `/console/messages/${id}/resend`,
      headers: { cookie: `herald_admin=${cookie?.value}`, origin: 'https://evil.example' },
    });
    expect(res.statusCode).toBe(403);
    expect((await stack.store.messages.get(id))?.status).toBe('failed');
    await context.close();
    expect(outside).toEqual([]);
  });
});
