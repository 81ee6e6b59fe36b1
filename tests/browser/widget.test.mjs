// The embeddable widget in a real Chromium, on pages of other origins, against the real daemon.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, READ, REPO, api, eventually, launchBrowser, startDaemon, startHost } from './lib.mjs';

const SURVEY = {
  title: 'Support follow-up',
  public: true,
  questions: [
    { id: 'rec', type: 'nps', text: 'How likely are you to recommend us?', required: true },
    { id: 'sat', type: 'csat', scale: 5, text: 'How satisfied are you with the support?' },
    { id: 'easy', type: 'ces', scale: 7, text: 'How easy was it to get your issue handled?' },
    { id: 'resolved', type: 'yes_no', text: 'Was it resolved on first contact?' },
    { id: 'expect', type: 'choice', options: ['met', 'exceeded', 'fell short'], allow_other: true, text: 'Did we meet your expectations?' },
    { id: 'comment', type: 'text', max_length: 500, text: 'Anything else?' },
  ],
};

let daemon, allowed, disallowed, browser;
const embeds = {}; // path -> data attributes of the widget's script tag, on both host servers

const extras = {
  // The host page places the widget elsewhere and themes it through the custom properties.
  '/themed': {
    head: '<style>:root{--surveyd-accent:rgb(200, 0, 100);--surveyd-radius:0px}</style>',
    body: '<aside><h2>Your opinion</h2><div id="slot"></div></aside><p>Some text after the slot.</p>',
  },
};

function hostPage(path) {
  return () => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host page ${path}</title>
<style>body{font-family:sans-serif;margin:24px;background:#f6f7f9}</style>${extras[path]?.head || ''}</head>
<body><main><h1>Thanks for contacting ACME support</h1>${extras[path]?.body || ''}
<script src="${daemon.base}/widget.js" ${embeds[path]} async></script>
</main></body></html>`;
}

before(async () => {
  const pages = {};
  for (const path of ['/', '/rejected', '/retry', '/conflict', '/private', '/survey-origin', '/themed']) pages[path] = hostPage(path);
  // Two host servers on their own ports (two origins); the daemon allows only the first one globally.
  allowed = await startHost(pages);
  disallowed = await startHost(pages);
  daemon = await startDaemon({ SURVEYD_CORS_ORIGINS: allowed.origin });
  let r = await api(daemon.base, 'PUT', '/v1/surveys/support', { body: SURVEY });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  // Allowed through its own allowed_origins only: the "disallowed" host may submit to this one.
  r = await api(daemon.base, 'PUT', '/v1/surveys/sales', {
    body: { title: 'Sales chat', public: true, allowed_origins: [disallowed.origin], questions: [{ id: 'rec', type: 'nps', required: true }] },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  for (const id of ['retry', 'conflict']) {
    r = await api(daemon.base, 'PUT', `/v1/surveys/${id}`, { body: { title: `Survey ${id}`, public: true, questions: [{ id: 'rec', type: 'nps' }, { id: 'note', type: 'text' }] } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  r = await api(daemon.base, 'PUT', '/v1/surveys/thumbs', { body: { title: 'Quick rating', public: true, questions: [{ id: 'sat', type: 'csat', scale: 2, required: true }] } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await api(daemon.base, 'PUT', '/v1/surveys/internal', { body: { title: 'Internal', public: false, questions: [{ id: 'rec', type: 'nps' }] } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
  await allowed?.stop();
  await disallowed?.stop();
});

async function listing(survey) {
  const r = await api(daemon.base, 'GET', `/v1/surveys/${survey}/responses?limit=100`, { token: READ });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.responses;
}

async function openPage(host, path, attrs) {
  embeds[path] = attrs;
  const context = await browser.newContext({ viewport: { width: 720, height: 1100 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(host.origin + path);
  return { page, context, errors };
}

async function press(page, key, times = 1) {
  for (let i = 0; i < times; i++) await page.keyboard.press(key);
}

test('the widget script is at most 15 KB and is the file in the tree', async () => {
  const res = await fetch(`${daemon.base}/widget.js`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/javascript/);
  const body = Buffer.from(await res.arrayBuffer());
  assert.ok(body.length <= 15 * 1024, `widget.js is ${body.length} bytes, more than 15 KB`);
  const file = readFileSync(join(REPO, 'server/web/widget.js'));
  assert.ok(body.equals(file), 'the daemon serves a different widget.js than server/web/widget.js: rebuild (ninja -C build)');
});

test('keyboard only, on an allowed origin: the answers are stored and counted exactly once', async () => {
  const { page, context, errors } = await openPage(allowed, '/', 'data-survey="support" data-channel="web" data-customer="cust-42" data-interaction="chat-1001"');
  const requests = [];
  page.on('request', (req) => {
    if (req.url().startsWith(daemon.base + '/v1/')) requests.push({ method: req.method(), url: req.url(), key: req.headers()['idempotency-key'], auth: req.headers()['authorization'] });
  });
  const form = page.locator('.surveyd-widget form');
  await form.waitFor();

  // Accessibility basics: named radio groups, a label on every radio, required marked.
  const nps = page.getByRole('radiogroup', { name: /How likely are you to recommend us\?/ });
  await nps.waitFor();
  assert.equal(await nps.getAttribute('aria-required'), 'true');
  assert.equal(await nps.getByRole('radio').count(), 11);
  for (let v = 0; v <= 10; v++) assert.equal(await nps.getByRole('radio', { name: String(v), exact: true }).count(), 1, `radio ${v}`);
  await page.getByText('Not likely', { exact: true }).waitFor();
  await page.getByText('Very likely', { exact: true }).waitFor();
  const unlabelled = await page.$$eval('.surveyd-widget input, .surveyd-widget textarea', (els) =>
    els.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')).length);
  assert.equal(unlabelled, 0, 'every input has a label');
  assert.equal(await page.locator('.surveyd-widget fieldset').count(), SURVEY.questions.length);
  assert.equal(await page.locator('.surveyd-widget legend').first().locator('.sd-req').textContent(), '*');
  assert.equal(await page.getByRole('radiogroup', { name: /How satisfied/ }).getByRole('radio').count(), 5);
  assert.equal(await page.getByRole('radiogroup', { name: /How easy/ }).getByRole('radio').count(), 7);
  assert.equal(await page.getByRole('textbox', { name: 'Anything else?' }).getAttribute('maxlength'), '500');

  // NPS 9: Tab into the group (focus on 0, nothing checked), then arrows check as they move.
  await press(page, 'Tab');
  assert.equal(await page.evaluate(() => document.activeElement.closest('[role=radiogroup]')?.getAttribute('aria-labelledby') != null), true);
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement.nextElementSibling).outlineStyle);
  assert.equal(outline, 'solid', 'keyboard focus is visible');
  await press(page, 'ArrowRight', 9);
  // The first answer alone is already submitted.
  const first = await eventually(async () => (await listing('support'))[0], { what: 'the first answer to be stored' });
  assert.deepEqual(first.answers, { rec: 9 });
  assert.equal(first.channel, 'web');
  assert.equal(first.customer, 'cust-42');
  assert.equal(first.interaction, 'chat-1001');

  await press(page, 'Tab'); // CSAT: 1..5 -> 4
  await press(page, 'Space');
  await press(page, 'ArrowRight', 3);
  await press(page, 'Tab'); // CES: 1..7 -> 6
  await press(page, 'Space');
  await press(page, 'ArrowRight', 5);
  await press(page, 'Tab'); // yes/no -> Yes
  await press(page, 'Space');
  await press(page, 'Tab'); // choice -> Other (arrow left from the first wraps to the last)
  await press(page, 'ArrowLeft');
  await press(page, 'Tab'); // the "Other" text
  await page.keyboard.type('better than expected');
  await press(page, 'Tab'); // the comment
  await page.keyboard.type('Quick & friendly <b>thanks</b>');
  await page.screenshot({ path: join(ARTIFACTS, 'widget-filled.png'), fullPage: true });
  await press(page, 'Tab'); // Send
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Send');
  await press(page, 'Enter');

  const thanks = page.locator('.surveyd-widget .sd-done');
  await thanks.waitFor();
  assert.match(await thanks.textContent(), /Thank you/);
  assert.equal(await thanks.getAttribute('aria-live'), 'polite');
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains('sd-done')), true, 'focus moves to the thank-you');
  await page.screenshot({ path: join(ARTIFACTS, 'widget-thanks.png'), fullPage: true });

  const responses = await listing('support');
  assert.equal(responses.length, 1);
  assert.deepEqual(responses[0].answers, {
    rec: 9, sat: 4, easy: 6, resolved: true, expect: { other: 'better than expected' }, comment: 'Quick & friendly <b>thanks</b>',
  });
  const m = await api(daemon.base, 'GET', '/v1/surveys/support/metrics', { token: READ });
  assert.equal(m.status, 200);
  assert.equal(m.body.responses, 1);
  const q = m.body.questions;
  assert.equal(q.rec.answered, 1);
  assert.equal(q.rec.distribution[9], 1);
  assert.equal(q.rec.score, 100);
  assert.equal(q.sat.answered, 1);
  assert.equal(q.sat.distribution[3], 1);
  assert.equal(q.sat.score, 100);
  assert.equal(q.easy.score, 6);
  assert.equal(q.resolved.yes, 1);
  assert.equal(q.expect.counts.other, 1);
  assert.equal(q.comment.answered, 1);

  // One POST, then PATCHes to its id, each with its own Idempotency-Key.
  const writes = requests.filter((r) => r.method === 'POST' || r.method === 'PATCH');
  assert.equal(writes[0].method, 'POST');
  assert.ok(writes.slice(1).every((r) => r.method === 'PATCH' && r.url === `${daemon.base}/v1/responses/${first.id}`), JSON.stringify(writes));
  assert.ok(writes.every((r) => r.key), 'every write has an Idempotency-Key');
  // The follow-ups carry the edit token the POST's 201 gave (the id alone grants nothing); the POST none.
  assert.equal(writes[0].auth, undefined);
  assert.ok(writes.length > 1 && writes.slice(1).every((r) => /^Bearer [a-z2-7]{32}$/.test(r.auth || '')), JSON.stringify(writes));
  assert.equal(new Set(writes.slice(1).map((r) => r.auth)).size, 1);
  assert.equal(new Set(writes.map((r) => r.key)).size, writes.length);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a page on a disallowed origin cannot submit', async () => {
  const { page, context } = await openPage(disallowed, '/rejected', 'data-survey="support" data-channel="web"');
  const before = (await listing('support')).length;
  // The definition itself is refused to this origin (no CORS grant): the widget says so politely.
  const note = page.locator('.surveyd-widget .sd-err');
  await note.waitFor({ timeout: 20000 });
  assert.match(await note.textContent(), /could not be loaded/);
  assert.equal(await note.getAttribute('aria-live'), 'polite');
  assert.equal(await page.locator('.surveyd-widget form').count(), 0);
  await page.screenshot({ path: join(ARTIFACTS, 'widget-disallowed.png'), fullPage: true });

  // Direct attempts from that page: a preflighted JSON POST, and a "simple" text/plain POST that
  // needs no preflight and so reaches the daemon, which must refuse it itself (403).
  const outcomes = await page.evaluate(async (base) => {
    const out = [];
    for (const type of ['application/json', 'text/plain']) {
      try {
        const r = await fetch(`${base}/v1/surveys/support/responses`, {
          method: 'POST', mode: 'cors', headers: { 'Content-Type': type }, body: JSON.stringify({ answers: { rec: 0 } }),
        });
        out.push(`status ${r.status}`);
      } catch (e) {
        out.push(`rejected: ${e.name}`);
      }
    }
    return out;
  }, daemon.base);
  assert.deepEqual(outcomes, ['rejected: TypeError', 'rejected: TypeError']);
  assert.equal((await listing('support')).length, before, 'nothing was stored');

  // What the browser hid: the daemon's own answer to that origin is 403 forbidden.
  const r = await api(daemon.base, 'POST', '/v1/surveys/support/responses', {
    token: null, headers: { Origin: disallowed.origin }, body: { answers: { rec: 0 } },
  });
  assert.equal(r.status, 403);
  assert.equal(r.body.code, 'forbidden');
  assert.equal((await listing('support')).length, before, 'nothing was stored');
  await context.close();
});

test("a survey's own allowed_origins let that origin submit", async () => {
  const { page, context } = await openPage(disallowed, '/survey-origin', 'data-survey="sales"');
  await page.locator('.surveyd-widget form').waitFor();
  await press(page, 'Tab');
  await press(page, 'Space'); // 0
  await press(page, 'Tab');
  await press(page, 'Enter');
  await page.locator('.surveyd-widget .sd-done').waitFor();
  const responses = await listing('sales');
  assert.equal(responses.length, 1);
  assert.deepEqual(responses[0].answers, { rec: 0 });
  await context.close();
});

test('a refused submission (4xx) shows a polite error', async () => {
  let r = await api(daemon.base, 'POST', '/v1/surveys/conflict/responses', { body: { answers: { rec: 5 }, interaction: 'ticket-77' } });
  assert.equal(r.status, 201);
  const { page, context } = await openPage(allowed, '/conflict', 'data-survey="conflict" data-interaction="ticket-77"');
  await page.locator('.surveyd-widget form').waitFor();
  await press(page, 'Tab');
  await press(page, 'ArrowRight', 10);
  const err = page.locator('.surveyd-widget form .sd-err');
  await eventually(async () => /already answered/.test(await err.textContent()), { what: 'the conflict message' });
  assert.equal(await err.getAttribute('aria-live'), 'polite');
  assert.equal((await listing('conflict')).length, 1);
  await page.screenshot({ path: join(ARTIFACTS, 'widget-conflict.png'), fullPage: true });
  await context.close();
});

test('a private survey is not shown (no token in a public page)', async () => {
  const { page, context } = await openPage(allowed, '/private', 'data-survey="internal"');
  const note = page.locator('.surveyd-widget .sd-err');
  await note.waitFor();
  assert.match(await note.textContent(), /could not be loaded/);
  await context.close();
});

test('a lost reply is retried with the same Idempotency-Key and stored once', async () => {
  const { page, context } = await openPage(allowed, '/retry', 'data-survey="retry"');
  const posts = [];
  const patches = [];
  // The first POST reaches the daemon (and is stored), but its reply is lost on the way back;
  // the first PATCH fails before reaching it.
  await page.route(`${daemon.base}/v1/**`, async (route) => {
    const req = route.request();
    if (req.method() === 'POST') {
      posts.push(req.headers()['idempotency-key']);
      if (posts.length === 1) {
        await route.fetch();
        return route.abort('connectionreset');
      }
    }
    if (req.method() === 'PATCH') {
      patches.push(req.headers()['idempotency-key']);
      if (patches.length === 1) return route.abort('connectionreset');
    }
    return route.continue();
  });
  await page.locator('.surveyd-widget form').waitFor();
  await press(page, 'Tab');
  await press(page, 'ArrowLeft'); // wraps from 0 to 10
  await eventually(async () => posts.length >= 2, { what: 'a retried POST' });
  await press(page, 'Tab');
  await page.keyboard.type('second try');
  await press(page, 'Tab');
  await press(page, 'Enter');
  await page.locator('.surveyd-widget .sd-done').waitFor({ timeout: 20000 });
  assert.equal(posts.length, 2);
  assert.equal(posts[0], posts[1], 'the retry reuses the Idempotency-Key');
  assert.equal(patches.length, 2);
  assert.equal(patches[0], patches[1], 'the PATCH retry reuses its Idempotency-Key');
  assert.notEqual(patches[0], posts[0]);
  const responses = await listing('retry');
  assert.equal(responses.length, 1);
  assert.deepEqual(responses[0].answers, { rec: 10, note: 'second try' });
  await context.close();
});

test('data-target, theming through custom properties, and a thumbs CSAT', async () => {
  const { page, context, errors } = await openPage(allowed, '/themed', 'data-survey="thumbs" data-target="#slot"');
  await page.locator('#slot .surveyd-widget form').waitFor();
  const group = page.getByRole('radiogroup', { name: /How satisfied are you\?/ });
  assert.deepEqual(await group.getByRole('radio').evaluateAll((rs) => rs.map((r) => r.labels[0].textContent)), ['👎bad', '👍good']);
  assert.equal(await group.getByRole('radio', { name: 'good' }).count(), 1);
  await press(page, 'Tab');
  await press(page, 'ArrowRight'); // good
  const style = await page.evaluate(() => {
    const span = document.activeElement.nextElementSibling;
    return { bg: getComputedStyle(span).backgroundColor, radius: getComputedStyle(span).borderTopLeftRadius };
  });
  assert.deepEqual(style, { bg: 'rgb(200, 0, 100)', radius: '0px' });
  await page.screenshot({ path: join(ARTIFACTS, 'widget-themed.png'), fullPage: true });
  await press(page, 'Tab');
  await press(page, 'Enter');
  await page.locator('.surveyd-widget .sd-done').waitFor();
  const responses = await listing('thumbs');
  assert.equal(responses.length, 1);
  assert.deepEqual(responses[0].answers, { sat: 2 });
  assert.deepEqual(errors, []);
  await context.close();
});
