// /docs in headless Chromium: Swagger UI renders every operation of the served document, with no
// "Could not render" panel and no script error (the WhatsApp handshake once broke it), and marks
// Idempotency-Key required on booking.
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../src/http/server.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('the /docs page in Chromium', () => {
  let db: TestDatabase;
  let t: TestApp;
  let server: Listening;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db);
    server = await listen(t.app, '127.0.0.1', 0);
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await db?.drop();
  });

  it('renders every operation, expanded, without errors', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const count = Object.values(document.paths as Record<string, object>).reduce(
      (sum, item) => sum + Object.keys(item).length,
      0,
    );
    await page.goto(`${server.url}/docs`);
    await page.waitForSelector('.opblock-summary');
    const summaries = page.locator('.opblock-summary');
    expect(await summaries.count()).toBe(count);
    // Each operation is expanded, checked and collapsed again in the page, one after another:
    // Swagger UI resolves an operation's schemas when it first opens (0.5–1 s each in Chromium on
    // two cores), and with all forty open at once every later render redraws them all (58 s
    // against 29 s, measured).
    const unrendered = await page.locator('.opblock-summary-control').evaluateAll(async (buttons) => {
      const until = async (done: () => boolean) => {
        while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
      };
      // The page's DOM types, as far as this uses them (the project compiles without lib.dom).
      type Node = {
        click(): void;
        closest(s: string): Node;
        querySelector(s: string): Node | null;
        id: string;
        textContent: string | null;
      };
      const failed: string[] = [];
      for (const button of buttons as unknown as Node[]) {
        const block = button.closest('.opblock');
        button.click();
        await until(() => block.querySelector('.opblock-body') !== null);
        if (block.textContent?.includes('Could not render')) failed.push(block.id);
        button.click();
        await until(() => block.querySelector('.opblock-body') === null);
      }
      return failed;
    });
    expect(unrendered).toEqual([]);
    expect(await page.textContent('body')).not.toContain('Could not render');
    expect(errors).toEqual([]);
  }, 180_000);

  it('shows the handshake query fields and a required Idempotency-Key', async () => {
    const handshake = page.locator('#operations-webhooks-verifyWebhookSubscription');
    const book = page.locator('#operations-appointments-bookAppointment');
    for (const operation of [handshake, book]) {
      await operation.locator('.opblock-summary-control').click();
      await operation.locator('.opblock-body').waitFor({ timeout: 60_000 });
    }
    for (const name of ['hub.mode', 'hub.verify_token', 'hub.challenge']) {
      expect(await handshake.locator(`tr[data-param-name="${name}"]`).count(), name).toBe(1);
    }
    const key = book.locator('tr[data-param-name="idempotency-key"] .parameter__name');
    expect(await key.getAttribute('class')).toContain('required');
  });
});
