// The dashboard against WCAG 2.2 AA (issue 13): axe-core on every state (token form, loaded,
// filtered, updating), forced colours, a 375 px phone, layout shift while loading, in-place updates
// that announce only changed figures, and focus after the token form. Fixed dates, explicit window.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, READ, api, assertNoAxeViolations, eventually, launchBrowser, startDaemon, toDocs } from './lib.mjs';
import { SUPPORT, addDays, makeResponses, postAll } from './seed.mjs';

const last = '2026-10-31';
const from = addDays(last, -29);
const now = Date.parse(`${addDays(last, 1)}T00:00:00Z`);
let daemon, browser, url;

before(async () => {
  daemon = await startDaemon();
  const r = await api(daemon.base, 'PUT', '/v1/surveys/support', { body: SUPPORT });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  // 200 responses over the 30 days of the window, as in the audit, and some before it.
  await postAll(daemon.base, 'support', [
    ...makeResponses({ seed: 7, count: 200, lastDay: last, days: 30, lift: 1, now }),
    ...makeResponses({ seed: 11, count: 120, lastDay: addDays(from, -1), days: 30, now }),
  ]);
  url = `${daemon.base}/dashboard?poll=1000&from=${from}&to=${last}`;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

// A context whose tab already holds the read token (as after the token form), and that sums every
// layout shift not caused by input, as CLS does.
async function open({ width = 1280, height = 1000, token = true, ...options } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'UTC', locale: 'en-US', ...options });
  await context.addInitScript((t) => {
    if (t) sessionStorage.setItem('surveyd.readToken', t);
    window.__shifts = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shifts.push(e.value);
    }).observe({ type: 'layout-shift', buffered: true });
  }, token ? READ : null);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(url);
  return { page, context, errors };
}

async function loaded(page) {
  await eventually(async () => (await page.getByTestId('nps-score').getAttribute('data-value')) !== '', { what: 'the figures' });
  await page.getByTestId('trend-chart').locator('svg').waitFor();
  await page.getByTestId('channel-breakdown').locator('.rows').waitFor();
}

const cls = (page) => page.evaluate(() => window.__shifts.reduce((a, b) => a + b, 0));

test('axe: token form, loaded, filtered and updating; focus after the form; a visible label', async () => {
  const { page, context, errors } = await open({ token: false });
  const token = page.getByLabel('Read token');
  await token.waitFor();
  const box = await page.locator('label[for=token]').boundingBox();
  assert.ok(box && box.width > 20 && box.height > 8, `the token's label is visible: ${JSON.stringify(box)}`);
  await assertNoAxeViolations(page, 'dashboard token form');
  await token.fill('not-a-token');
  await token.press('Enter');
  await page.getByText('That token was not accepted').waitFor();
  await assertNoAxeViolations(page, 'dashboard token form, refused');

  await token.fill(READ);
  await token.press('Enter');
  await loaded(page);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'survey', 'focus moves to the survey picker, not to <body>');
  await assertNoAxeViolations(page, 'dashboard loaded');

  await page.locator('#channel').fill('email');
  await page.locator('#channel').press('Enter');
  await eventually(async () => Number(await page.getByTestId('nps-n').getAttribute('data-value')) < 150, { what: 'the email figures' });
  await assertNoAxeViolations(page, 'dashboard filtered');
  await page.getByText('Week', { exact: true }).click();
  await eventually(async () => /week/.test(await page.locator('#trend-title').textContent()), { what: 'weeks' });
  await assertNoAxeViolations(page, 'dashboard filtered, by week');

  // Updating: the next poll's replies held back while axe looks at the page.
  let release;
  const held = new Promise((ok) => { release = ok; });
  const continued = [];
  await page.route('**/v1/surveys/support/metrics**', (route) => { continued.push(held.then(() => route.continue())); });
  await eventually(() => continued.length > 0, { what: 'a poll in flight' });
  await assertNoAxeViolations(page, 'dashboard updating');
  release();
  await Promise.all(continued);
  await page.unroute('**/v1/surveys/support/metrics**');
  assert.deepEqual(errors, []);
  await context.close();
});

test('charts: text alternatives a person can use', async () => {
  const { page, context } = await open();
  await loaded(page);
  const dist = await page.getByTestId('distribution-chart').locator('svg').getAttribute('aria-label');
  const counts = await page.getByTestId('distribution-chart').locator('rect[data-value]').evaluateAll((rs) => rs.map((r) => r.dataset.count));
  assert.equal(dist, 'Answers by score: ' + counts.map((c, v) => `${v}: ${c}`).join(', ') + '.');
  const trend = await page.getByTestId('trend-chart').locator('svg').getAttribute('aria-label');
  assert.ok(trend.length < 200, `a summary, not every point: ${trend.length} characters: ${trend}`);
  assert.match(trend, /^NPS by day, \d+ points from Oct \d+ to Oct 31: lowest -?[\d.]+ \(Oct \d+\), highest -?[\d.]+ \(Oct \d+\), latest -?[\d.]+\.$/);
  assert.doesNotMatch(trend, /2026-/);
  await context.close();
});

test('updates in place: a 304 poll changes nothing, a new figure is announced once', async () => {
  const { page, context } = await open();
  await loaded(page);
  assert.equal(await page.locator('#status').getAttribute('aria-live'), null, 'the "Updated" time is not announced');
  assert.equal(await page.locator('[aria-live]').count(), 1);
  const live = page.getByTestId('announce');
  assert.equal(await live.textContent(), '', 'nothing is announced on the first load');
  // Mark the nodes; polls answered 304 must leave them (and a screen reader's place) alone.
  await page.evaluate(() => {
    for (const sel of ['#kpi-nps .score', '#trend svg', '#dist svg', '#split .split-bar', '#comments li', '#channels-box .rows']) document.querySelector(sel).__kept = true;
  });
  let polls304 = 0;
  page.on('response', (r) => { if (r.status() === 304 && r.url().includes('/metrics')) polls304++; });
  await eventually(() => polls304 >= 6, { what: 'two polls answered 304', timeoutMs: 8000 });
  const kept = await page.evaluate(() => ['#kpi-nps .score', '#trend svg', '#dist svg', '#split .split-bar', '#comments li', '#channels-box .rows']
    .filter((sel) => !document.querySelector(sel).__kept));
  assert.deepEqual(kept, [], 'rebuilt although nothing changed');
  assert.equal(await live.textContent(), '');

  const before = await page.getByTestId('nps-score').getAttribute('data-value');
  const r = await api(daemon.base, 'POST', '/v1/surveys/support/responses', {
    body: { answers: { rec: 0, comment: 'Still waiting.' }, channel: 'phone', submitted_at: `${last}T23:59:59.000Z` },
  });
  assert.equal(r.status, 201);
  await eventually(async () => (await page.getByTestId('nps-score').getAttribute('data-value')) !== before, { what: 'the new NPS', timeoutMs: 8000 });
  const said = await live.textContent();
  assert.match(said, /^Updated: 201 responses, NPS now -?[\d.]+/);
  assert.doesNotMatch(said, /CES/, 'CES did not change: not announced');
  await context.close();
});

test('layout shift while loading stays under 0.1, on a desktop and on a phone', async () => {
  for (const [width, height, mobile] of [[1280, 1000, false], [375, 812, true]]) {
    const { page, context } = await open({ width, height, isMobile: mobile, hasTouch: mobile });
    await loaded(page);
    await page.waitForTimeout(300); // let a last frame paint: a shift is reported after it
    const total = await cls(page);
    assert.ok(total < 0.1, `CLS ${total.toFixed(3)} at ${width} px`);
    await context.close();
  }
});

test('a 375 px phone: chart text stays legible; screenshots', async () => {
  const { page, context } = await open({ width: 375, height: 812, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await loaded(page);
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 375, 'no horizontal scrolling');
  const sizes = await page.locator('#trend svg text, #dist svg text').evaluateAll((ts) => ts.map((t) => t.getBoundingClientRect().height));
  assert.ok(Math.min(...sizes) >= 11, `axis text at least 11 px high on screen: ${Math.min(...sizes)}`);
  await assertNoAxeViolations(page, 'dashboard at 375 px');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
  toDocs('dashboard-phone.png');
  await context.close();

  const desk = await open();
  await loaded(desk.page);
  await desk.page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  toDocs('dashboard.png');
  await desk.context.close();
});

test('forced colours: the bars and the Day/Week selection stay visible and distinct', async () => {
  const { page, context } = await open({ forcedColors: 'active' });
  await loaded(page);
  const seg = await page.locator('.seg label').evaluateAll((ls) => ls.map((l) => ({ on: l.previousElementSibling.checked, bg: getComputedStyle(l).backgroundColor })));
  const on = seg.find((s) => s.on), off = seg.find((s) => !s.on);
  assert.notEqual(on.bg, off.bg, 'the selected granularity is marked');
  const bars = await page.locator('#split .split-bar > div').evaluateAll((ds) => ds.map((d) => {
    const c = getComputedStyle(d);
    return c.backgroundColor + ' ' + c.backgroundImage;
  }));
  const track = await page.locator('.track').first().evaluate((t) => getComputedStyle(t).backgroundColor);
  assert.equal(new Set(bars).size, 3, `promoters, passives and detractors each look different: ${bars}`);
  for (const b of bars) assert.notEqual(b, `${track} none`, 'a band would vanish into the background');
  const channel = await page.locator('.track > div').evaluateAll((ds) => ds.map((d) => getComputedStyle(d).backgroundColor));
  for (const c of channel) assert.notEqual(c, track, 'a channel bar would vanish');
  await assertNoAxeViolations(page, 'dashboard under forced colours');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-forced-colors.png'), fullPage: true });
  toDocs('dashboard-forced-colors.png');
  await context.close();
});
