// Edges of the dashboard's views over comments (issue 18) that dashboard-comments.test.mjs's seed
// cannot reach: highlights placed by code points when a comment has characters outside the BMP
// (emoji, math letters: two UTF-16 units each), the NPS 6/7 border of detractor verbatims, best match
// first with an order that differs from newest first, the 200-response window of the verbatims, and
// the highlights under forced colours and on a 375 px phone. Fixed dates, explicit window; every
// expectation is computed here from the seed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { READ, api, assertNoAxeViolations, eventually, launchBrowser, startDaemon } from './lib.mjs';

const from = '2026-10-01';
const last = '2026-10-31';
const SURVEY = {
  title: 'Edges',
  questions: [
    { id: 'rec', type: 'nps', text: 'How likely are you to recommend us?' },
    { id: 'why', type: 'text', text: 'Why?' },
  ],
};
// Newest first: seven (a passive, must never be a verbatim), weak (one refund in a long comment),
// six (the highest detractor score), astral (refund after emoji and a math letter), strong (refund
// three times in three words: the best match, and the oldest).
const EDGES = [
  { key: 'seven', rec: 7, why: 'a passive seven mentions the refund once', at: '2026-10-20T10:00:00Z' },
  { key: 'weak', rec: 10, why: 'a long comment about many things such as delivery couriers parcels boxes tape labels stickers ' +
      'invoices and finally one refund mention at the very end of it all', at: '2026-10-18T10:00:00Z' },
  { key: 'six', rec: 6, why: 'six is still a detractor 🙁', at: '2026-10-12T10:00:00Z' },
  { key: 'astral', rec: 2, why: '🎉🎉 great refund, 😀 then 𝒳 Refund again 👍', at: '2026-10-05T10:00:00Z' },
  { key: 'strong', rec: 9, why: 'refund refund refund', at: '2026-10-02T10:00:00Z' },
];
let daemon, browser;
const ids = {};

// The model of the highlight: every whole word "refund" (any case), in code points.
function segments(text) {
  const chars = Array.from(text), out = [];
  let plain = '';
  for (let i = 0; i < chars.length;) {
    const word = chars.slice(i, i + 6).join('');
    const before = i === 0 || !/[\p{L}\p{N}]/u.test(chars[i - 1]);
    const after = i + 6 >= chars.length || !/[\p{L}\p{N}]/u.test(chars[i + 6]);
    if (word.toLowerCase() === 'refund' && before && after) {
      if (plain) out.push(['text', plain]);
      out.push(['mark', word]);
      plain = '';
      i += 6;
    } else {
      plain += chars[i++];
    }
  }
  if (plain) out.push(['text', plain]);
  return out;
}

async function post(survey, answers, submitted) {
  const r = await api(daemon.base, 'POST', `/v1/surveys/${survey}/responses`, { body: { answers, submitted_at: submitted } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id;
}

before(async () => {
  daemon = await startDaemon();
  let r = await api(daemon.base, 'PUT', '/v1/surveys/edges', { body: SURVEY });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  for (const e of EDGES) ids[e.key] = await post('edges', { rec: e.rec, why: e.why }, e.at);
  // "window": one detractor's comment, then 200 newer promoters' comments: it is the 201st newest.
  r = await api(daemon.base, 'PUT', '/v1/surveys/window', { body: { ...SURVEY, title: 'Window' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await post('window', { rec: 0, why: 'the oldest detractor' }, '2026-10-01T00:00:00Z');
  for (let i = 0; i < 200; i++) {
    const at = `2026-10-${String(2 + (i % 28)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00Z`;
    await post('window', { rec: 10, why: 'all good' }, at);
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

async function open(survey, options = {}) {
  const { width = 1280, height = 1200, ...rest } = options;
  const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'UTC', locale: 'en-US', ...rest });
  await context.addInitScript((t) => sessionStorage.setItem('surveyd.readToken', t), READ);
  const page = await context.newPage();
  await page.goto(`${daemon.base}/dashboard?poll=60000&survey=${survey}&from=${from}&to=${last}`);
  await eventually(async () => (await page.getByTestId('nps-score').getAttribute('data-value')) !== '', { what: 'the figures' });
  return { context, page };
}

async function searchFor(page, q, sort = 'newest') {
  await page.getByTestId('search-sort').selectOption(sort);
  await page.getByTestId('search-input').fill(q);
  await page.getByTestId('search-input').press('Enter');
  await eventually(async () => {
    const s = await page.getByTestId('search-status').textContent();
    return s !== '' && !/Searching/.test(s);
  }, { what: `the results of ${q}` });
  return page.getByTestId('search-results').locator('li').evaluateAll((lis) => lis.map((li) => ({
    response: li.dataset.response,
    parts: [...li.querySelector('blockquote').childNodes].map((n) => [n.nodeName === 'MARK' ? 'mark' : 'text', n.textContent]),
  })));
}

test('highlights by code points: emoji and a math letter before the words; best match differs from newest', async () => {
  const { context, page } = await open('edges');
  const matching = EDGES.filter((e) => segments(e.why).some(([k]) => k === 'mark'));
  assert.deepEqual(matching.map((e) => e.key), ['seven', 'weak', 'astral', 'strong'], 'the seed as meant');
  let got = await searchFor(page, 'refund');
  assert.deepEqual(got.map((x) => x.response), matching.map((e) => ids[e.key]), 'newest first');
  for (const x of got) {
    const e = EDGES.find((y) => ids[y.key] === x.response);
    assert.deepEqual(x.parts, segments(e.why), e.key);
  }
  // The astral comment's marks sit after 2 + 1 + 2 UTF-16 units more than code points: a slice by
  // code units would mark "t refu" and "n Refu" instead.
  assert.deepEqual(got.find((x) => x.response === ids.astral).parts.filter(([k]) => k === 'mark').map(([, t]) => t), ['refund', 'Refund']);

  got = await searchFor(page, 'refund', 'relevance');
  assert.equal(got[0].response, ids.strong, 'the best match leads (it is the oldest, so newest first would put it last)');
  assert.deepEqual(got[0].parts, [['mark', 'refund'], ['text', ' '], ['mark', 'refund'], ['text', ' '], ['mark', 'refund']]);
  assert.deepEqual(new Set(got.map((x) => x.response)), new Set(matching.map((e) => ids[e.key])));
  await context.close();
});

test('detractor verbatims: 6 is a detractor, 7 is not', async () => {
  const { context, page } = await open('edges');
  const want = EDGES.filter((e) => e.rec <= 6).map((e) => e.why);
  assert.deepEqual(want, [EDGES[2].why, EDGES[3].why], 'the seed as meant');
  await eventually(async () => (await page.getByTestId('detractor-verbatims').locator('blockquote').count()) === want.length, { what: 'the verbatims' });
  assert.deepEqual(await page.getByTestId('detractor-verbatims').locator('blockquote').allTextContents(), want);
  await context.close();
});

test('detractor verbatims come from the window\'s latest 200 responses, and say so', async () => {
  const { context, page } = await open('window');
  await eventually(async () => (await page.getByTestId('detractor-verbatims').locator('li').count()) === 1, { what: 'the verbatims' });
  assert.equal(await page.getByTestId('detractor-verbatims').locator('blockquote').count(), 0);
  assert.match(await page.getByTestId('detractor-verbatims').textContent(), /latest 200 responses/);
  await context.close();
});

test('forced colours: highlighted words stay distinct from the text around them', async () => {
  const { context, page } = await open('edges', { forcedColors: 'active' });
  await searchFor(page, 'refund');
  const colours = await page.getByTestId('search-results').locator('mark').first().evaluate((m) => {
    // The colour a pixel shows: the first ancestor-or-self with a background that is not transparent.
    const shown = (el) => {
      for (; el; el = el.parentElement) {
        const bg = getComputedStyle(el).backgroundColor;
        if (bg !== 'transparent' && !/^rgba\(.*, 0\)$/.test(bg)) return bg; // forced colours keep alpha 0 on Canvas
      }
      return 'Canvas'; // the page's own background shows through everything
    };
    return { mark: shown(m), markText: getComputedStyle(m).color, around: shown(m.parentElement), text: getComputedStyle(m.parentElement).color };
  });
  assert.notEqual(colours.mark, colours.around, JSON.stringify(colours));
  assert.notEqual(colours.markText, colours.mark, JSON.stringify(colours));
  await context.close();
});

test('a 375 px phone: results and verbatims fit without sideways scrolling; axe clean', async () => {
  const { context, page } = await open('edges', { width: 375, height: 800 });
  await searchFor(page, 'refund');
  await eventually(async () => (await page.getByTestId('detractor-verbatims').locator('blockquote').count()) === 2, { what: 'the verbatims' });
  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  assert.ok(widths.scroll <= widths.client, JSON.stringify(widths));
  await assertNoAxeViolations(page, 'comment views at 375 px');
  await context.close();
});

test('topics: one group_by=topic request a refresh, and "updating…" with the progress while a group is not complete', async () => {
  let r = await api(daemon.base, 'PUT', '/v1/surveys/topical', { body: { ...SURVEY, title: 'Topical' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  for (const e of EDGES) await post('topical', { rec: e.rec, why: e.why }, e.at);
  r = await api(daemon.base, 'PUT', '/v1/surveys/topical/topics/refunds', { body: { title: 'Refunds', query: 'refund' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await eventually(async () => (await api(daemon.base, 'GET', '/v1/surveys/topical/topics/refunds', { token: READ })).body.backfill.state === 'done',
    { what: 'the back-fill done' });
  // The server's replies as they would be half-way through a back-fill (one that ends as soon as it
  // starts can't be caught here): the group not complete, the list's progress at 2 of 5.
  const context = await browser.newContext({ viewport: { width: 1280, height: 1200 }, timezoneId: 'UTC', locale: 'en-US' });
  await context.addInitScript((t) => sessionStorage.setItem('surveyd.readToken', t), READ);
  const asked = [];
  await context.route((url) => url.pathname === '/v1/surveys/topical/metrics', async (route) => {
    const url = new URL(route.request().url());
    asked.push(url.searchParams.has('topic') ? 'topic=' : url.searchParams.get('group_by'));
    if (url.searchParams.get('group_by') !== 'topic') return route.continue();
    const reply = await route.fetch({ headers: { ...route.request().headers(), 'if-none-match': '' } });
    const body = await reply.json();
    body.groups.forEach((g) => { g.complete = false; });
    return route.fulfill({ response: reply, json: body });
  });
  await context.route((url) => url.pathname === '/v1/surveys/topical/topics', async (route) => {
    const reply = await route.fetch({ headers: { ...route.request().headers(), 'if-none-match': '' } });
    const body = await reply.json();
    body.topics.forEach((t) => { t.backfill = { state: 'running', scanned: 2, total: 5 }; });
    return route.fulfill({ response: reply, json: body });
  });
  const page = await context.newPage();
  await page.goto(`${daemon.base}/dashboard?poll=60000&survey=topical&from=${from}&to=${last}`);
  await eventually(async () => (await page.getByTestId('topics').locator('tbody tr').count()) === 1, { what: 'the topic row' });
  const row = page.getByTestId('topics').locator('tbody tr');
  assert.equal(await row.getAttribute('data-topic'), 'refunds');
  assert.equal(await row.locator('td').first().locator('.sub').textContent(), 'updating… 40%');
  assert.equal(Number(await row.locator('td').nth(1).textContent()), EDGES.filter((e) => /\brefund\b/i.test(e.why)).length);
  assert.equal(asked.filter((g) => g === 'topic').length, 1, 'one group_by=topic request');
  assert.equal(asked.filter((g) => g === 'topic=').length, 0, 'none per topic');
  await context.close();
});
