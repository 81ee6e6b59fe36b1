// The dashboard served by the daemon, in a real Chromium: seeded figures, polling with ETags, the token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ARTIFACTS, READ, REPO, api, assertNoAxeViolations, ces, change, csat, eventually, launchBrowser, nps, responseRate, startDaemon,
} from './lib.mjs';
import { SUPPORT, addDays, makeResponses, postAll } from './seed.mjs';

let daemon, browser, context, page;
// Fixed dates and an explicit window: nothing here moves with the clock (issue 12). The window is
// the 30 UTC days to 2026-10-31 inclusive; the comparison period is the 30 days before it.
const last = '2026-10-31';
const from = addDays(last, -29);
const now = Date.parse(`${addDays(last, 1)}T00:00:00Z`);
let current, previous;
const responses304 = [];
const conditional = [];

before(async () => {
  daemon = await startDaemon();
  let r = await api(daemon.base, 'PUT', '/v1/surveys/support', { body: SUPPORT });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await api(daemon.base, 'PUT', '/v1/surveys/onboarding', {
    body: { title: 'Onboarding', questions: [{ id: 'ok', type: 'yes_no' }] },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  // A few hundred responses over the last 30 days (the default window), and the 30 before.
  current = makeResponses({ seed: 7, count: 320, lastDay: last, days: 30, lift: 1, now });
  previous = makeResponses({ seed: 11, count: 220, lastDay: addDays(from, -1), days: 30, now });
  await postAll(daemon.base, 'support', [...previous, ...current]);

  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, timezoneId: 'UTC', locale: 'en-US' });
  page = await context.newPage();
  page.on('request', (req) => {
    if (req.headers()['if-none-match']) conditional.push(req.url());
  });
  page.on('response', (res) => {
    if (res.status() === 304) responses304.push(res.url());
  });
});

after(async () => {
  await context?.close();
  await browser?.close();
  await daemon?.stop();
});

function values(list, key) {
  return list.map((r) => r.answers[key]).filter((v) => v !== undefined);
}

async function attr(testid, name = 'data-value') {
  return page.getByTestId(testid).getAttribute(name);
}

test('the token form, then the figures for the seeded data', async () => {
  await page.goto(`${daemon.base}/dashboard?poll=1000&from=${from}&to=${last}`);
  const token = page.getByLabel('Read token');
  await token.waitFor();
  // A wrong token is refused politely and not kept.
  await token.fill('not-a-token');
  await token.press('Enter');
  await page.getByText('That token was not accepted').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('surveyd.readToken')), null);
  await token.fill(READ);
  await token.press('Enter');
  await page.getByTestId('nps-score').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('surveyd.readToken')), READ);

  // The cards are drawn before any data: wait for the surveys list, not just for the card.
  await eventually(async () => (await page.locator('#survey option').count()) === 2, { what: 'the survey list' });
  // The explicit window (the default, the last 30 days, would move with the clock).
  assert.equal(await page.locator('#from').inputValue(), from);
  assert.equal(await page.locator('#to').inputValue(), last);
  assert.deepEqual(await page.locator('#survey option').evaluateAll((o) => o.map((x) => x.value)), ['onboarding', 'support']);
  // The first survey with an NPS question is shown first.
  assert.equal(await page.locator('#survey').inputValue(), 'support');

  const e = { nps: nps(values(current, 'rec')), csat: csat(values(current, 'sat')), ces: ces(values(current, 'easy')) };
  const p = { nps: nps(values(previous, 'rec')), csat: csat(values(previous, 'sat')), ces: ces(values(previous, 'easy')) };
  await eventually(async () => Number(await attr('nps-score')) === e.nps.score, { what: `NPS ${e.nps.score}` });
  assert.equal(await page.getByTestId('responses-total').textContent(), String(current.length));
  // Every figure is the server's 2-decimal value, shown as given: never rounded again.
  for (const key of ['nps', 'csat', 'ces']) {
    assert.equal(Number(await attr(`${key}-score`)), e[key].score, `${key} score`);
    assert.match(await page.getByTestId(`${key}-score`).textContent(), new RegExp(`^${e[key].score.toFixed(2).replace('-', '[-−]?')}`));
    assert.equal(Number(await attr(`${key}-n`)), e[key].n, `${key} n`);
    assert.match(await page.getByTestId(`${key}-n`).textContent(), new RegExp(`n = ${e[key].n} answered`));
    assert.ok(Math.abs(Number(await attr(`${key}-ci`, 'data-low')) - e[key].ci[0]) <= 0.011, `${key} ci low`);
    assert.ok(Math.abs(Number(await attr(`${key}-ci`, 'data-high')) - e[key].ci[1]) <= 0.011, `${key} ci high`);
    assert.equal(await page.getByTestId(`${key}-ci`).textContent(),
      `95% CI ${Number(await attr(`${key}-ci`, 'data-low')).toFixed(2)} – ${Number(await attr(`${key}-ci`, 'data-high')).toFixed(2)}`);
    const c = change(e[key], p[key]);
    const shown = Number(await attr(`${key}-change`));
    assert.ok(Math.abs(shown - c.score) <= 0.011, `${key} change ${shown}, expected ${c.score}`);
    assert.equal(await attr(`${key}-change`, 'data-significant'), String(c.significant), `${key} significance`);
    const text = await page.getByTestId(`${key}-change`).textContent();
    assert.match(text, new RegExp(`^${shown > 0 ? '▲' : shown < 0 ? '▼' : '='} ${Math.abs(shown).toFixed(2)} vs previous 30 days`));
    assert.equal(text.includes('significant'), c.significant);
  }

  // The 0-10 distribution and the split.
  const dist = Array(11).fill(0);
  for (const v of values(current, 'rec')) dist[v]++;
  const bars = await page.getByTestId('distribution-chart').locator('rect[data-value]').evaluateAll((rs) => rs.map((r) => Number(r.dataset.count)));
  assert.deepEqual(bars, dist);
  assert.equal(Number(await attr('nps-promoters')), e.nps.promoters);
  assert.equal(Number(await attr('nps-passives')), e.nps.passives);
  assert.equal(Number(await attr('nps-detractors')), e.nps.detractors);

  // The trend: a point per day with NPS answers, then per ISO week after the toggle.
  const days = new Set(current.map((r) => r.submitted_at.slice(0, 10)));
  await eventually(async () => (await page.getByTestId('trend-chart').locator('circle').count()) === days.size, { what: 'a point per day' });
  assert.equal(await page.getByTestId('trend-chart').locator('polyline').count() >= 1, true);
  await page.getByText('Week', { exact: true }).click();
  const weeks = new Set(current.map((r) => isoWeek(r.submitted_at)));
  await eventually(async () => (await page.getByTestId('trend-chart').locator('circle').count()) === weeks.size, { what: 'a point per week' });
  const keys = await page.getByTestId('trend-chart').locator('circle').evaluateAll((cs) => cs.map((c) => c.dataset.key));
  assert.deepEqual(keys, [...weeks].sort());
  await page.getByText('Day', { exact: true }).click();
  await eventually(async () => (await page.getByTestId('trend-chart').locator('circle').count()) === days.size, { what: 'back to days' });

  // Comments: the newest first.
  const withComments = current.filter((r) => r.answers.comment).sort((a, b) => b.submitted_at.localeCompare(a.submitted_at));
  const comments = page.getByTestId('comments').locator('blockquote');
  assert.equal(await comments.first().textContent(), withComments[0].answers.comment);
  assert.ok((await comments.count()) <= 10);

  // NPS by channel.
  for (const ch of ['chat', 'email', 'phone', 'web']) {
    const shown = await page.getByTestId('channel-breakdown').locator(`[data-channel="${ch}"]`).getAttribute('data-value');
    assert.equal(Number(shown), nps(values(current.filter((r) => r.channel === ch), 'rec')).score, ch);
  }

  await page.waitForTimeout(300);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  if (process.env.UPDATE_DOCS_SCREENSHOT) copyFileSync(join(ARTIFACTS, 'dashboard.png'), join(REPO, 'docs', 'dashboard.png'));
});

test('polls with If-None-Match and shows a new response', async () => {
  // Between writes, the polls are answered 304 from the cached body.
  await eventually(() => responses304.some((u) => u.includes('/metrics')), { what: 'a 304 to a poll', timeoutMs: 8000 });
  assert.ok(conditional.some((u) => u.includes('/metrics')));

  // The new response's comment must be shown as text, never as markup.
  const comment = 'Nobody called me back. <img src=x onerror="window.__pwned=1"> & <b>bold</b>';
  const extra = { answers: { rec: 0, sat: 1, easy: 1, comment }, channel: 'phone', submitted_at: `${last}T23:59:59.000Z` };
  const r = await api(daemon.base, 'POST', '/v1/surveys/support/responses', { body: extra });
  assert.equal(r.status, 201);
  current.push(extra);
  const e = nps(values(current, 'rec'));
  await eventually(async () => Number(await attr('nps-score')) === e.score, { what: `NPS to become ${e.score}`, timeoutMs: 8000 });
  assert.equal(Number(await attr('nps-n')), e.n);
  assert.equal(Number(await attr('csat-score')), csat(values(current, 'sat')).score);
  assert.equal(Number(await attr('ces-score')), ces(values(current, 'easy')).score);
  assert.equal(await page.getByTestId('responses-total').textContent(), String(current.length));
  await eventually(async () => (await page.getByTestId('comments').locator('blockquote').first().textContent()) === comment, { what: 'the new comment' });
  assert.equal(await page.getByTestId('comments').locator('img, b').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
});

test('a channel filter narrows the figures', async () => {
  await page.locator('#channel').fill('email');
  await page.locator('#channel').press('Enter');
  const email = current.filter((r) => r.channel === 'email');
  const e = nps(values(email, 'rec'));
  await eventually(async () => Number(await attr('nps-n')) === e.n, { what: `n for email ${e.n}` });
  assert.equal(Number(await attr('nps-score')), e.score);
  await page.locator('#channel').fill('');
  await page.locator('#channel').press('Enter');
  await eventually(async () => Number(await attr('nps-n')) === values(current, 'rec').length, { what: 'all channels again' });
});

// Invitations as the store keeps them (schema/008_invitations.sql), written into the daemon's
// database with Debian's sqlite3 before any metrics request for the survey (so no cached reply
// predates them), on fixed dates like the responses. outcome 0 = sent, 1 = throttled.
function insertInvitations(survey, rows) {
  const values = rows.map((r, i) => `('inv-${survey}-${i}', '${survey}', 'cust-${i}', 'email', ${r.outcome},` +
    ` ${Date.parse(r.at)}, ${r.opened ? Date.parse(r.at) + 60000 : 0}, ${r.responded ? Date.parse(r.at) + 120000 : 0})`);
  execFileSync('sqlite3', [join(daemon.dataDir, 'surveyd.db'), '.timeout 5000',
    'INSERT INTO invitations (id, survey, customer, channel, outcome, created_at, opened_at, responded_at) VALUES ' +
    values.join(', ') + ';']);
}

test('the response rate shows for a survey with invitations in the window, and only then', async () => {
  // support sent none: no rate.
  assert.equal(await page.getByTestId('response-rate').isHidden(), true);
  const r = await api(daemon.base, 'PUT', '/v1/surveys/invited', {
    body: { title: 'Invited', questions: [{ id: 'rec', type: 'nps' }] },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const rows = [];
  for (let i = 0; i < 23; i++) rows.push({ outcome: 0, at: `${addDays(from, i)}T10:00:00.000Z`, opened: i % 2 === 0, responded: i % 5 < 2 });
  for (let i = 0; i < 4; i++) rows.push({ outcome: 1, at: `${addDays(from, i)}T11:00:00.000Z` });
  // Before the window: answered, but not counted.
  for (let i = 0; i < 10; i++) rows.push({ outcome: 0, at: `${addDays(from, -3)}T10:00:00.000Z`, responded: true });
  insertInvitations('invited', rows);
  const sent = 23, responded = rows.slice(0, 23).filter((x) => x.responded).length;
  const e = responseRate(responded, sent);

  await page.goto(`${daemon.base}/dashboard?poll=1000&survey=invited&from=${from}&to=${last}`);
  const rate = page.getByTestId('response-rate');
  await rate.waitFor();
  assert.equal(Number(await rate.getAttribute('data-value')), e.rate);
  assert.equal(Number(await rate.getAttribute('data-sent')), sent);
  assert.equal(Number(await rate.getAttribute('data-responded')), responded);
  assert.match(await rate.textContent(), new RegExp(`${e.rate.toFixed(2).replace('.', '\\.')}% response rate`));
  const detail = page.getByTestId('response-rate-detail');
  assert.deepEqual([Number(await detail.getAttribute('data-low')), Number(await detail.getAttribute('data-high'))], e.ci);
  assert.equal(await detail.textContent(), `${responded} of ${sent} invited · 95% CI ${e.ci[0].toFixed(2)} – ${e.ci[1].toFixed(2)}`);
  await assertNoAxeViolations(page, 'response rate shown');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-response-rate.png') });

  // Back to a survey without invitations: the rate goes.
  await page.locator('#survey').selectOption('support');
  await eventually(async () => rate.isHidden(), { what: 'the rate to go for a survey without invitations' });
});

test('every request carries the token, and "Forget token" drops it', async () => {
  const seen = [];
  const listener = (req) => { if (req.url().includes('/v1/')) seen.push(req.headers().authorization); };
  page.on('request', listener);
  await eventually(() => seen.length >= 3, { what: 'a poll' });
  assert.ok(seen.every((h) => h === `Bearer ${READ}`), JSON.stringify(seen));
  await page.getByRole('button', { name: 'Forget token' }).click();
  await page.getByLabel('Read token').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('surveyd.readToken')), null);
  await page.waitForTimeout(300); // a request already under way may still finish
  const before = seen.length;
  await page.waitForTimeout(2000);
  page.off('request', listener);
  assert.equal(seen.length, before, 'no polling without a token');
});

function isoWeek(iso) {
  const d = new Date(iso.slice(0, 10) + 'T00:00:00Z');
  const day = (d.getUTCDay() + 6) % 7;
  d.setUTCDate(d.getUTCDate() - day + 3);
  const year = d.getUTCFullYear();
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const week = 1 + Math.round(((d - jan4) / 864e5 - 3 + ((jan4.getUTCDay() + 6) % 7)) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}
