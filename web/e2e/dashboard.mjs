// Browser test of the dashboard against a running Pictor stack: Debian's
// Chromium (/usr/bin/chromium) driven by playwright-core, never a browser
// that Playwright downloads.
//
// scripts/e2e's TestDashboardInBrowser starts the real stack (Postgres,
// Redis, control plane with this dashboard embedded, an edge, two origin web
// servers) and runs this script with:
//   PICTOR_DASHBOARD_URL   the control plane, e.g. http://127.0.0.1:40123
//   PICTOR_EDGE_URL        the edge (PICTOR_PUBLIC_EDGE_URL of the control plane)
//   PICTOR_ORIGIN_URL      a web server serving /photos/generated.jpg (1200×800 JPEG)
//   PICTOR_ORIGIN2_URL     a second web server
//   PICTOR_EGRESS          the egress addresses the control plane was given (comma list)
//   PICTOR_ARTIFACTS_DIR   where the screenshots go (git-ignored artifacts/ by default)
//   PICTOR_CHROMIUM        the browser (default /usr/bin/chromium)
// It exits non-zero on the first failed check, naming it.

import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return v;
};
const DASH = env('PICTOR_DASHBOARD_URL').replace(/\/+$/, '');
const EDGE = env('PICTOR_EDGE_URL').replace(/\/+$/, '');
const ORIGIN = env('PICTOR_ORIGIN_URL').replace(/\/+$/, '');
const ORIGIN2 = env('PICTOR_ORIGIN2_URL').replace(/\/+$/, '');
// A SeaweedFS S3 API holding bucket "images" with site/photos/generated.jpg.
const S3_ENDPOINT = env('PICTOR_S3_ENDPOINT').replace(/\/+$/, '');
const S3_ACCESS_KEY = env('PICTOR_S3_ACCESS_KEY');
const S3_SECRET_KEY = env('PICTOR_S3_SECRET_KEY');
const EGRESS = (process.env.PICTOR_EGRESS ?? '').split(',').filter(Boolean);
const ARTIFACTS = resolve(env('PICTOR_ARTIFACTS_DIR', resolve(import.meta.dirname, '../../artifacts/dashboard')));
const CHROMIUM = env('PICTOR_CHROMIUM', '/usr/bin/chromium');
const OVERALL_TIMEOUT_MS = 150_000;

const account = `ui-${Date.now().toString(36)}`;
const email = `owner@${account}.example`;
const password = 'correct horse battery staple';

rmSync(ARTIFACTS, { recursive: true, force: true });
mkdirSync(ARTIFACTS, { recursive: true });

const started = Date.now();
const overall = setTimeout(() => {
  console.error(`FAIL: the browser test did not finish within ${OVERALL_TIMEOUT_MS / 1000}s`);
  process.exit(1);
}, OVERALL_TIMEOUT_MS);

const userDataDir = join(tmpdir(), `pictor-chromium-${process.pid}-${Date.now()}`);
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1280, height: 900 },
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(30_000); // generous: CI machines are small and shared

// A CSP violation or an uncaught exception fails the run: either means a
// page that is broken for users even if the checks below pass.
const problems = [];
page.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));
page.on('console', (m) => {
  if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
});

let shot = 0;
const screenshot = async (name) => {
  shot++;
  const file = join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
};

let passed = 0;
const step = async (name, fn) => {
  const t0 = Date.now();
  try {
    await fn();
  } catch (e) {
    console.error(`FAIL: ${name}: ${e?.stack ?? e}`);
    try {
      await screenshot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}`);
      console.error(`page at failure: ${page.url()} (screenshot in ${ARTIFACTS})`);
    } catch {
      // the page may be gone
    }
    await context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
    process.exit(1);
  }
  assert.deepEqual(problems, [], `browser problems during "${name}"`);
  passed++;
  console.log(`ok ${passed} - ${name} (${Date.now() - t0} ms)`);
};

const nav = (name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
const heading = (name) => page.getByRole('heading', { level: 1, name });
const api = (method, path, body) =>
  page.evaluate(
    async ([m, p, b]) => {
      const r = await fetch(p, { method: m, headers: b ? { 'Content-Type': 'application/json' } : {}, body: b ? JSON.stringify(b) : undefined });
      return { status: r.status, body: r.status === 204 ? null : await r.json() };
    },
    [method, path, body],
  );

await step('signed out, / leads to the sign-in page', async () => {
  await page.goto(DASH + '/');
  await heading('Sign in to Pictor').waitFor();
  assert.match(page.url(), /\/login\?next=/);
  await screenshot('sign-in');
});

await step('sign up creates the account and signs in', async () => {
  await page.getByRole('link', { name: 'Sign up' }).click();
  await heading('Create your Pictor account').waitFor();
  await page.getByLabel('Account ID').fill(account);
  await page.getByLabel('Company or project name').fill('UI Test Shop');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await screenshot('sign-up');
  await page.getByRole('button', { name: 'Create account' }).click();
  await heading('Origins').waitFor();
  const key = await page.getByTestId('welcome-key').textContent();
  assert.ok(key && key.length > 20, 'the first private key is shown once');
  await page.getByText('No origins yet').waitFor();
  await screenshot('origins-empty');
});

await step('the session survives a reload', async () => {
  await page.reload();
  await heading('Origins').waitFor();
  await page.getByText(`(${account})`).waitFor();
});

await step('a bad base URL shows the API field error next to the field', async () => {
  await page.getByRole('button', { name: 'Add origin' }).click();
  await heading('Add origin').waitFor();
  await page.getByLabel('Web server').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Origin name').fill('Website load balancer');
  await page.getByLabel('Base URL', { exact: true }).fill('ftp://www.example.com');
  await page.getByRole('button', { name: 'Add origin' }).click();
  const baseUrl = page.getByLabel('Base URL', { exact: true });
  await page.waitForFunction(() => document.querySelector('input[aria-invalid="true"]') !== null);
  assert.equal(await baseUrl.getAttribute('aria-invalid'), 'true');
  const errId = (await baseUrl.getAttribute('aria-describedby')).split(' ').find((id) => id.endsWith('-error'));
  const message = await page.locator(`[id="${errId}"]`).textContent();
  assert.match(message, /baseUrl must use http or https/);
  await screenshot('origin-field-error');
});

await step('test the origin before saving: the edge would get a JPEG', async () => {
  await page.getByLabel('Base URL', { exact: true }).fill(ORIGIN);
  await page.getByLabel('Path to try').fill('photos/missing.jpg');
  await page.getByRole('button', { name: 'Test origin' }).click();
  await page.getByTestId('origin-test-result').filter({ hasText: 'HTTP 404' }).waitFor();
  await page.getByLabel('Path to try').fill('photos/generated.jpg');
  await page.getByRole('button', { name: 'Test origin' }).click();
  const result = page.getByTestId('origin-test-result').filter({ hasText: 'Got a JPEG image' });
  await result.waitFor();
  assert.ok((await result.textContent()).includes(`${ORIGIN}/photos/generated.jpg`));
  await screenshot('origin-test');
});

await step('add a web-server origin; the default endpoint shows the example mapping', async () => {
  await page.getByLabel('Base URL', { exact: true }).fill(ORIGIN);
  await page.locator('summary', { hasText: 'Advanced options' }).click();
  await page.getByLabel('Include a canonical header').check();
  await page.getByLabel('Base URL for the canonical header').fill('https://www.example.com');
  await page.getByRole('button', { name: 'Add origin' }).click();
  await heading('Origins').waitFor();
  await page.getByText('Added origin “Website load balancer”.').waitFor();
  await page.getByRole('cell', { name: ORIGIN, exact: true }).waitFor();
  const mapping = await page.getByTestId('example-mapping').textContent();
  assert.ok(mapping.includes(`Your image ${ORIGIN}/rest-of-the-path.jpg is now ${EDGE}/${account}/rest-of-the-path.jpg`), mapping);
  assert.equal(await page.getByTestId('default-endpoint-url').textContent(), `${EDGE}/${account}`);
  await screenshot('origins');
});

await step('the edge serves the account once the config reaches it', async () => {
  // Config travels to the edge over its watch stream; each probe uses a new
  // cache key (forwarded query), so an early 404 is not remembered.
  const deadline = Date.now() + 30_000;
  let last = '';
  for (let n = 0; Date.now() < deadline; n++) {
    try {
      const r = await fetch(`${EDGE}/${account}/tr:w-10/photos/generated.jpg?ui-probe=${n}`);
      if (r.status === 200) return;
      last = `HTTP ${r.status} ${r.headers.get('x-pictor-error') ?? ''}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the edge did not serve the image within 30s; last: ${last}`);
});

await step('URL builder: w-300 previews a 300 px wide image from the edge', async () => {
  await nav('URL builder').click();
  await heading('URL builder').waitFor();
  await page.getByLabel('Image path').fill('photos/generated.jpg');
  await page.getByLabel('Width (w)').fill('300');
  await page.getByTestId('built-url').getByText(`${EDGE}/${account}/tr:w-300/photos/generated.jpg`, { exact: true }).waitFor();
  const img = page.getByTestId('preview-image');
  await img.waitFor();
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="preview-image"]');
    return el && el.complete && el.naturalWidth > 0;
  });
  assert.equal(await img.evaluate((el) => el.naturalWidth), 300);
  assert.equal(await img.evaluate((el) => el.naturalHeight), 200);
  await page.getByTestId('preview-dimensions').getByText('300 × 200 px').waitFor();
  await page.getByTestId('preview-saving').getByText(/smaller than the original/).waitFor();
  assert.match(await page.getByTestId('preview-format').textContent(), /^(JPEG|WebP|AVIF)$/);
  await page.locator('summary', { hasText: 'Response headers' }).click();
  await page.getByRole('rowheader', { name: 'x-cache' }).waitFor();
  await screenshot('builder');
});

await step('URL builder: query form, a raw tr string and a 400 explained', async () => {
  await page.getByLabel('Query (').check();
  await page.getByTestId('built-url').getByText(`${EDGE}/${account}/photos/generated.jpg?tr=w-300`, { exact: true }).waitFor();
  await page.getByLabel('A transformation string').check();
  const tr = page.getByLabel('Transformation string (tr)');
  assert.equal(await tr.inputValue(), 'w-300');
  await tr.fill('w-300,zz-1');
  await page.getByTestId('preview-error').getByText(/HTTP 400/).waitFor();
  await tr.fill('w-150');
  await page.waitForFunction(() => document.querySelector('[data-testid="preview-image"]')?.naturalWidth === 150);
  await page.getByLabel('Controls').check();
  assert.equal(await page.getByLabel('Width (w)').inputValue(), '150');
});

await step('URL builder: an image and a text overlay, previewed', async () => {
  const plainBytes = await page.getByTestId('preview-bytes').textContent();
  await page.getByLabel('Image overlay (l-image, i)').fill('photos/generated.jpg');
  await page.getByLabel('Image overlay size (w)').fill('40');
  await page.getByLabel('Text overlay (l-text, i)').fill('Pictor, 2026');
  await page.getByLabel('Font size (fs)').fill('20');
  await page.getByLabel('Text colour (co)').fill('FF0000');
  await page.getByLabel('Overlay position (lfo)').selectOption('bottom_right');
  const want = `${EDGE}/${account}/photos/generated.jpg?tr=w-150,l-image,i-photos@@generated.jpg,lfo-bottom_right,w-40,l-end,` +
    `l-text,ie-${encodeURIComponent(Buffer.from('Pictor, 2026').toString('base64'))},lfo-bottom_right,fs-20,co-FF0000,l-end`;
  await page.getByTestId('built-url').getByText(want, { exact: true }).waitFor();
  // The preview is the composite: another size than the plain w-150 it
  // replaced (the layers add detail), still 150 × 100.
  await page.waitForFunction((before) => {
    const el = document.querySelector('[data-testid="preview-image"]');
    const bytes = document.querySelector('[data-testid="preview-bytes"]')?.textContent;
    return el && el.complete && el.naturalWidth === 150 && bytes !== before;
  }, plainBytes);
  await page.getByTestId('preview-dimensions').getByText('150 × 100 px').waitFor();
  await screenshot('builder-overlays');
  // Cleared again, for the steps after this one.
  for (const label of ['Image overlay (l-image, i)', 'Image overlay size (w)', 'Text overlay (l-text, i)', 'Font size (fs)', 'Text colour (co)']) {
    await page.getByLabel(label).fill('');
  }
  await page.getByLabel('Overlay position (lfo)').selectOption('');
});

let websiteId;
let backupId;
await step('a second origin', async () => {
  await nav('Origins').click();
  await page.getByRole('button', { name: 'Add origin' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Origin name').fill('Backup server');
  await page.getByLabel('Base URL', { exact: true }).fill(ORIGIN2);
  await page.getByRole('button', { name: 'Add origin' }).click();
  await page.getByText('Added origin “Backup server”.').waitFor();
  const { body } = await api('GET', '/v1/accounts/origins');
  websiteId = body.find((o) => o.name === 'Website load balancer').id;
  backupId = body.find((o) => o.name === 'Backup server').id;
});

await step('an endpoint with two origins, reordered with the buttons and by dragging, and a custom domain', async () => {
  await nav('URL-endpoints').click();
  await heading('URL-endpoints').waitFor();
  await page.getByRole('button', { name: 'New URL-endpoint' }).click();
  await heading('New URL-endpoint').waitFor();
  await page.getByLabel('Description').fill('Shop images');
  await page.getByLabel('URL prefix').fill('shop');
  const add = async (name) => {
    await page.getByLabel('Add an origin').selectOption({ label: `${name} (${name === 'Backup server' ? ORIGIN2 : ORIGIN})` });
    await page.getByRole('button', { name: 'Add', exact: true }).click();
  };
  await add('Website load balancer');
  await add('Backup server');
  const names = () => page.locator('[data-testid="origin-order-item"] .order-name').allTextContents();
  assert.deepEqual(await names(), ['Website load balancer', 'Backup server']);
  await page.getByRole('button', { name: 'Move Backup server up' }).click();
  assert.deepEqual(await names(), ['Backup server', 'Website load balancer']);
  const items = page.getByTestId('origin-order-item');
  await items.nth(1).dragTo(items.nth(0));
  assert.deepEqual(await names(), ['Website load balancer', 'Backup server']);
  await page.getByRole('button', { name: 'Move Website load balancer down' }).click();
  assert.deepEqual(await names(), ['Backup server', 'Website load balancer']);
  await page.getByLabel('Add a domain').fill('images.ui-test.example');
  await page.getByRole('button', { name: 'Add domain' }).click();
  const edgeHost = new URL(EDGE).hostname;
  const record = await page.getByTestId('dns-record').textContent();
  assert.ok(record.includes(`images.ui-test.example. ${/^[\d.]+$/.test(edgeHost) ? 'A' : 'CNAME'} ${edgeHost}`), record);
  await screenshot('endpoint-form');
  await page.getByRole('button', { name: 'Create URL-endpoint' }).click();
  await heading('URL-endpoints').waitFor();
  const row = page.getByTestId('endpoint-shop');
  await row.waitFor();
  assert.deepEqual(await row.getByTestId('endpoint-origins').locator('li').allTextContents(), ['Backup server', 'Website load balancer']);
  const { body } = await api('GET', '/v1/accounts/url-endpoints');
  const shop = body.find((e) => e.urlPrefix === 'shop');
  assert.deepEqual(shop.origins, [backupId, websiteId], 'the saved preference order');
  assert.deepEqual(shop.customDomains, ['images.ui-test.example']);
  await screenshot('endpoints');
});

await step('editing the endpoint keeps and changes the order', async () => {
  await page.getByRole('link', { name: `Edit ${EDGE}/${account}/shop` }).click();
  await page.getByRole('heading', { level: 1, name: 'Edit URL-endpoint' }).waitFor();
  await page.getByRole('button', { name: 'Move Website load balancer up' }).click();
  await page.getByLabel('Restrict unsigned URLs').check();
  await page.getByRole('button', { name: 'Save URL-endpoint' }).click();
  await heading('URL-endpoints').waitFor();
  const { body } = await api('GET', '/v1/accounts/url-endpoints');
  const shop = body.find((e) => e.urlPrefix === 'shop');
  assert.deepEqual(shop.origins, [websiteId, backupId]);
  assert.equal(shop.restrictUnsignedUrls, true);
});

let createdKey;
await step('create an API key (shown once) and revoke it', async () => {
  await nav('API keys').click();
  await heading('API keys').waitFor();
  const rows = page.getByTestId('key-row');
  await rows.first().waitFor();
  const before = await rows.count();
  await page.getByLabel('Key name').fill('CI deploys');
  await page.getByRole('button', { name: 'Create key' }).click();
  createdKey = await page.getByTestId('new-key').textContent();
  assert.ok(createdKey.length > 20);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="key-row"]').length === n, before + 1);
  await screenshot('api-key-created');
  const row = rows.filter({ hasText: 'CI deploys' });
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: 'Revoke key' }).click();
  await page.getByText(/Revoked CI deploys/).waitFor();
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="key-row"]').length === n, before);
  assert.equal(await page.getByTestId('new-key').count(), 0, 'the revoked key is no longer shown');
  await screenshot('api-keys');
});

await step('the builder signs URLs of a restricted endpoint in the browser', async () => {
  const key = await api('POST', '/v1/api-keys', { name: 'signing' });
  assert.equal(key.status, 201);
  await page.goto(`${DASH}/builder?endpoint=${encodeURIComponent((await api('GET', '/v1/accounts/url-endpoints')).body.find((e) => e.urlPrefix === 'shop').id)}`);
  await heading('URL builder').waitFor();
  await page.getByLabel('Image path').fill('photos/generated.jpg');
  await page.getByLabel('Width (w)').fill('120');
  await page.getByText('Paste a private key above to preview').waitFor();
  await page.getByLabel('Private API key').fill(key.body.privateKey);
  await page.getByTestId('built-url').getByText(/\?ik-s=[0-9a-f]{40}$/).waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="preview-image"]')?.naturalWidth === 120);
  await screenshot('builder-signed');
});

await step('purge a URL and see it Completed', async () => {
  await nav('Purge cache').click();
  await heading('Purge cache').waitFor();
  await page.getByLabel('Image URL, or a prefix ending with *').fill(`${EDGE}/${account}/photos/generated.jpg`);
  await page.getByRole('button', { name: 'Purge' }).click();
  await page.getByTestId('purge-status').first().getByText('Completed', { exact: true }).waitFor({ timeout: 30_000 });
  await page.getByLabel('Image URL, or a prefix ending with *').fill(`${EDGE}/${account}/photos/*`);
  await page.getByRole('button', { name: 'Purge' }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="purge-status"]')].every((e) => e.textContent.startsWith('Completed')), null, { timeout: 30_000 });
  await page.getByLabel('Image URL, or a prefix ending with *').fill('https://elsewhere.example/other/a.jpg');
  await page.getByRole('button', { name: 'Purge' }).click();
  await page.locator('input[aria-invalid="true"]').waitFor();
  await screenshot('purge');
});

await step('named transformations', async () => {
  await nav('Named transformations').click();
  await heading('Named transformations').waitFor();
  await page.getByLabel('Name', { exact: true }).fill('thumb');
  await page.getByLabel('Transformation', { exact: true }).fill('w-100,h-100');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('cell', { name: 'n-thumb', exact: true }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('broken');
  await page.getByLabel('Transformation', { exact: true }).fill('zz-1');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('input[aria-invalid="true"]').waitFor();
  await screenshot('named-transformations');
});

await step('usage charts', async () => {
  await nav('Usage').click();
  await heading('Usage').waitFor();
  await page.locator('figcaption', { hasText: 'Requests per day' }).waitFor();
  assert.equal(await page.locator('figure.chart svg').count(), 3);
  await page.locator('figcaption', { hasText: 'Cache hit ratio per day' }).waitFor();
  // The edge reports its counters every few seconds: the images the builder
  // showed earlier appear as today's requests.
  const requests = page.locator('.totals div', { hasText: 'Requests' }).locator('dd');
  const deadline = Date.now() + 20_000;
  while ((await requests.textContent()) === '0' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    await page.getByRole('button', { name: 'Show' }).click();
    await page.locator('figure.chart').first().waitFor();
  }
  assert.notEqual(await requests.textContent(), '0', 'the edge reported the requests it served');
  await screenshot('usage');
});

await step('whitelisting shows the header and the egress addresses', async () => {
  await nav('Whitelisting').click();
  await heading('Whitelisting').waitFor();
  assert.equal(await page.getByTestId('req-from-header').textContent(), 'X-Req-From: pictor');
  const text = await page.getByTestId('egress-addresses').textContent();
  for (const a of EGRESS) assert.ok(text.includes(a), `${a} in ${text}`);
  await screenshot('whitelisting');
});

await step('not-found help lists a missing image the edge reported', async () => {
  // A request for an image no origin has; the edge reports it with its
  // next usage report (every second in the browser test's stack).
  const missing = `photos/missing-${Date.now().toString(36)}.jpg`;
  const r = await fetch(`${EDGE}/${account}/tr:w-50/${missing}?e2e=1`);
  assert.equal(r.status, 404, `the edge answers a missing image with 404, got ${r.status}`);
  await nav('Not-found help').click();
  await heading('Not-found help').waitFor();
  await page.getByRole('heading', { level: 2, name: 'Finding out why an image is not found' }).waitFor();
  const row = page.getByTestId('delivery-error-row').filter({ hasText: `/${missing}` });
  const deadline = Date.now() + 30_000;
  while ((await row.count()) === 0 && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 1000));
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForFunction(() => !document.querySelector('.loading'));
  }
  await row.waitFor({ timeout: 1000 });
  assert.equal(await row.locator('td[data-label="Path"]').textContent(), `/${missing}`, 'the default endpoint goes unnamed');
  assert.equal(await row.locator('td[data-label="Status"]').textContent(), '404');
  assert.equal(await row.locator('td[data-label="Reason"]').textContent(), 'Not found on any origin');
  assert.equal(await row.locator('td[data-label="Origins tried"]').textContent(), 'Website load balancer');
  assert.equal(await row.locator('td[data-label="When"]').textContent(), 'just now');
  await screenshot('not-found-help');
});

await step('an origin still used by an endpoint cannot be deleted, and the page says why', async () => {
  await nav('Origins').click();
  await heading('Origins').waitFor();
  const row = page.getByRole('row').filter({ hasText: 'Backup server' });
  await row.getByRole('button', { name: 'Delete' }).click();
  await row.getByRole('button', { name: 'Delete origin' }).click();
  await page.getByRole('alert').getByText(/“Backup server” is still used by \/shop/).waitFor();
  await screenshot('origin-delete-409');
});

await step('readable at phone width', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ['/origins', '/builder', '/endpoints']) {
    await page.goto(DASH + path);
    await page.getByRole('heading', { level: 1 }).first().waitFor();
    await page.waitForLoadState('networkidle');
    await page.waitForFunction(() => !document.querySelector('.loading'));
    const { overflow, culprits } = await page.evaluate(() => {
      const w = window.innerWidth;
      // The widest elements sticking out, outside scrollable table wrappers.
      const culprits = [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > w + 1 && !el.closest('.table-wrap'))
        .slice(-3)
        .map((el) => `${el.tagName.toLowerCase()}.${el.className} (${Math.round(el.getBoundingClientRect().right)}px)`);
      return { overflow: document.documentElement.scrollWidth - w, culprits };
    });
    assert.ok(overflow <= 1, `${path} is ${overflow}px wider than the screen: ${culprits.join(', ')}`);
  }
  await page.goto(DASH + '/origins');
  await heading('Origins').waitFor();
  await screenshot('phone-origins');
  await page.setViewportSize({ width: 1280, height: 900 });
});

await step('a web-proxy origin with allowed hosts; an endpoint using it is advised to require signed URLs', async () => {
  await page.goto(DASH + '/origins');
  await heading('Origins').waitFor();
  await page.getByRole('button', { name: 'Add origin' }).click();
  await heading('Add origin').waitFor();
  await page.getByLabel('Web proxy').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Origin name').fill('Partner images');
  await page.getByLabel('Allowed hosts').fill('10.0.0.1');
  await page.getByRole('button', { name: 'Add origin' }).click();
  await page.getByRole('alert').filter({ hasText: 'IP address' }).waitFor();
  await page.getByLabel('Allowed hosts').fill('images.partner.example\n*.cdn.partner.example');
  await page.getByRole('button', { name: 'Add origin' }).click();
  await page.getByText('Added origin “Partner images”.').waitFor();
  await page.getByRole('cell', { name: 'URLs on images.partner.example, *.cdn.partner.example' }).waitFor();
  const { body } = await api('GET', '/v1/accounts/origins');
  const proxy = body.find((o) => o.name === 'Partner images');
  assert.equal(proxy.type, 'WEB_PROXY');
  assert.equal(proxy.baseUrl, undefined);
  assert.deepEqual(proxy.allowedHosts, ['images.partner.example', '*.cdn.partner.example']);
  await screenshot('origins-web-proxy');

  await nav('URL-endpoints').click();
  await heading('URL-endpoints').waitFor();
  await page.getByRole('button', { name: 'New URL-endpoint' }).click();
  await heading('New URL-endpoint').waitFor();
  await page.getByLabel('Description').fill('Partner images');
  await page.getByLabel('URL prefix').fill('partner');
  await page.getByLabel('Add an origin').selectOption({ label: 'Partner images (URLs on images.partner.example, *.cdn.partner.example)' });
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByTestId('proxy-signing-advice').waitFor();
  await page.getByLabel('Restrict unsigned URLs').check();
  assert.equal(await page.getByTestId('proxy-signing-advice').count(), 0);
  await page.getByRole('button', { name: 'Create URL-endpoint' }).click();
  await heading('URL-endpoints').waitFor();
});

await step('an S3-compatible origin through the wizard, tested before and after saving', async () => {
  const secret = S3_SECRET_KEY;
  const s3Host = new URL(S3_ENDPOINT).host;
  await page.goto(DASH + '/origins');
  await heading('Origins').waitFor();
  await page.getByRole('button', { name: 'Add origin' }).click();
  await heading('Add origin').waitFor();
  await page.getByLabel('S3-compatible storage').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Origin name').fill('Bucket');
  // exact: "Folder inside the bucket" contains "bucket" too.
  await page.getByLabel('Bucket', { exact: true }).fill('images');
  await page.getByLabel('Folder inside the bucket').fill('site');
  await page.getByLabel('Access key').fill(S3_ACCESS_KEY);
  await page.getByLabel('Secret key').fill('not-the-secret');
  await page.getByLabel('Endpoint', { exact: true }).fill(S3_ENDPOINT);
  assert.equal(await page.getByLabel('Path-style addressing').isChecked(), true);
  // A wrong secret: the bucket refuses, and the form says what that means.
  await page.getByLabel('Path to try').fill('photos/generated.jpg');
  await page.getByRole('button', { name: 'Test origin' }).click();
  await page.getByTestId('origin-test-result').filter({ hasText: 'HTTP 403' }).filter({ hasText: 'check the access key' }).waitFor();
  await page.getByLabel('Secret key').fill(secret);
  await page.getByRole('button', { name: 'Test origin' }).click();
  const got = page.getByTestId('origin-test-result').filter({ hasText: 'Got a JPEG image' });
  await got.waitFor();
  assert.ok((await got.textContent()).includes(`${S3_ENDPOINT}/images/site/photos/generated.jpg`));
  await screenshot('origin-test-s3');
  await page.getByRole('button', { name: 'Add origin' }).click();
  await page.getByText('Added origin “Bucket”.').waitFor();
  await page.getByRole('cell', { name: `s3://images/site on ${s3Host}`, exact: true }).waitFor();
  const { body } = await api('GET', '/v1/accounts/origins');
  const bucket = body.find((o) => o.name === 'Bucket');
  assert.equal(bucket.type, 'S3_COMPATIBLE');
  assert.equal(bucket.bucket, 'images');
  assert.equal(bucket.prefix, 'site');
  assert.equal(bucket.endpoint, S3_ENDPOINT);
  assert.equal(bucket.s3ForcePathStyle, true);
  assert.equal(bucket.baseUrl, undefined);
  assert.ok(!('secretKey' in bucket), 'the API returned the secret key');
  assert.ok(!JSON.stringify(body).includes(secret), 'the origins list contains the secret key');
  assert.ok(!(await page.content()).includes(secret), 'the page contains the secret key');
  await screenshot('origins-s3-compatible');

  // Editing: the secret field is empty (write-only), and the test uses the stored secret.
  await page.goto(`${DASH}/origins/${encodeURIComponent(bucket.id)}/edit`);
  await heading('Edit origin').waitFor();
  assert.equal(await page.getByLabel('Secret key').inputValue(), '');
  await page.getByLabel('Path to try').fill('photos/generated.jpg');
  await page.getByRole('button', { name: 'Test origin' }).click();
  await page.getByTestId('origin-test-result').filter({ hasText: 'Got a JPEG image' }).waitFor();
  assert.ok(!(await page.content()).includes(secret), 'the edit page contains the secret key');
});

await step('an unknown page and an API error never leave a blank page', async () => {
  await page.goto(DASH + '/no-such-page');
  await heading('Page not found').waitFor();
  await page.goto(DASH + '/origins/does-not-exist/edit');
  await page.getByRole('alert').waitFor();
  await screenshot('errors');
});

await step('sign out, then sign in with the keyboard', async () => {
  await page.goto(DASH + '/origins');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await heading('Sign in to Pictor').waitFor();
  await page.reload();
  await heading('Sign in to Pictor').waitFor();
  await page.getByLabel('Email').focus();
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await heading('Origins').waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await heading('Sign in to Pictor').waitFor();
  await screenshot('signed-out');
});

clearTimeout(overall);
await context.close();
rmSync(userDataDir, { recursive: true, force: true });
console.log(`dashboard browser test: ${passed} steps passed in ${((Date.now() - started) / 1000).toFixed(1)}s; screenshots in ${ARTIFACTS}`);
