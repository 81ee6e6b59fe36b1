// The dashboard's views over comments (issue 18): the search box (q= with the server's snippets,
// highlighted from code-point offsets), detractor verbatims and the words detractors use, checked
// against expectations computed here from the seed. Fixed dates, explicit window. On SQLite always,
// and on PostgreSQL too when SURVEYD_TEST_POSTGRES names a server (the same expectations: both
// backends search; a server that answered q= with 501 would hide the search box, and the card test
// below follows whatever the server says).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, POSTGRES, READ, api, assertNoAxeViolations, eventually, launchBrowser, nps, startDaemon } from './lib.mjs';

const from = '2026-10-01';
const last = '2026-10-31';
const VOICE = {
  title: 'Voice of the customer',
  questions: [
    { id: 'rec', type: 'nps', text: 'How likely are you to recommend us?' },
    { id: 'why', type: 'text', text: 'Why?' },
    { id: 'via', type: 'choice', options: ['web', 'app'], allow_other: true },
  ],
};
// Words only (no stop words, no one-letter words): the model below counts them as the server does.
const PHRASES = ['refund never arrived', 'waited weeks for the refund', 'courier lost parcel', 'parcel arrived damaged',
  'Crème brûlée recipe wrong', 'friendly agent', 'agent solved everything', 'refund refund refund please',
  'delivery late twice', 'late delivery and lost parcel'];
const PLAIN = { title: 'No scores', questions: [{ id: 'note', type: 'text', text: 'Anything else?' }] };

function fold(word) {
  return word.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}
function words(text) {
  return (text.match(/[\p{L}\p{N}]+/gu) || []).map(fold);
}
function textsOf(r) {
  const out = [];
  if (r.answers.why) out.push(['why', r.answers.why]);
  if (r.answers.via && r.answers.via.other) out.push(['via', r.answers.via.other]);
  return out;
}
const newestFirst = (list) => [...list].sort((a, b) => (b.submitted_at.localeCompare(a.submitted_at)) || (b.id.localeCompare(a.id)));

// Topics and the model of their tagging: a query word matches a folded token (a trailing * any token
// it begins), a phrase consecutive tokens of the response's document, OR either side.
const TOPICS = [
  { id: 'refunds', title: 'Refunds', query: 'refund', match: (ws) => ws.includes('refund') },
  { id: 'parcels', title: 'Parcels and couriers', query: 'parcel OR courier', match: (ws) => ws.includes('parcel') || ws.includes('courier') },
  { id: 'lost', title: 'Lost parcels', query: '"lost parcel"', match: (ws) => ws.some((w, i) => w === 'lost' && ws[i + 1] === 'parcel') },
  { id: 'agents', title: 'Agents', query: 'agent*', match: (ws) => ws.some((w) => w.startsWith('agent')) },
  // Only detractors write "carrier pigeon" in the seed: a significant difference.
  { id: 'pigeons', title: 'Carrier pigeons', query: 'pigeon', match: (ws) => ws.includes('pigeon') },
];

// Two-sided p of a standard normal z, by Simpson's rule over the density (not erfc as the server).
function twoSidedP(z) {
  const a = Math.abs(z), steps = 2000, hstep = a / steps;
  let sum = 0;
  for (let i = 0; i <= steps; i++) {
    const x = i * hstep, f = Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
    sum += f * (i === 0 || i === steps ? 1 : i % 2 ? 4 : 2);
  }
  return 2 * (0.5 - (sum * hstep) / 3);
}
const two = (x) => (Math.round(x * 100) / 100).toFixed(2);

function comments(backend) {
  let daemon, browser, context, page, searchable;
  const seeded = [];
  // Both backends search (PostgreSQL through its tsvector index, docs/search.md "PostgreSQL").
  const searchTest = (name, fn) => test(name, async () => {
    assert.equal(searchable, true, `${backend} answers q=`);
    await fn();
  });

  before(async () => {
    daemon = await startDaemon({}, { backend });
    seeded.length = 0;
    let r = await api(daemon.base, 'PUT', '/v1/surveys/voice', { body: VOICE });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await api(daemon.base, 'PUT', '/v1/surveys/plain', { body: PLAIN });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await api(daemon.base, 'POST', '/v1/surveys/plain/responses', { body: { answers: { note: 'refund please' }, submitted_at: '2026-10-05T10:00:00Z' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    searchable = (await api(daemon.base, 'GET', '/v1/surveys/voice/responses?limit=1&q=refund')).status === 200;
    // 90 responses over October 2026: every third a detractor; a comment on most, a write-in on some.
    for (let i = 0; i < 90; i++) {
      const answers = { rec: [2, 8, 10][i % 3] === 2 ? i % 7 : [2, 8, 10][i % 3] };
      if (i % 7 !== 6) answers.why = PHRASES[i % PHRASES.length];
      if (i % 6 === 0) answers.via = { other: i % 12 === 0 ? 'phone refund desk' : 'carrier pigeon' };
      const day = String(1 + (i % 30)).padStart(2, '0');
      const submitted = `2026-10-${day}T${String(8 + (i % 10)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:${String(i % 47).padStart(2, '0')}Z`;
      r = await api(daemon.base, 'POST', '/v1/surveys/voice/responses', { body: { answers, submitted_at: submitted, channel: i % 2 ? 'chat' : 'email' } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      seeded.push({ id: r.body.id, answers, submitted_at: submitted });
    }
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 1400 }, timezoneId: 'UTC', locale: 'en-US' });
    await context.addInitScript((t) => sessionStorage.setItem('surveyd.readToken', t), READ);
    page = await context.newPage();
    await page.goto(`${daemon.base}/dashboard?poll=60000&from=${from}&to=${last}&survey=voice`);
    await eventually(async () => (await page.getByTestId('nps-score').getAttribute('data-value')) !== '', { what: 'the figures' });
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await daemon?.stop();
  });

  async function searchFor(q, sort = 'newest') {
    await page.getByTestId('search-sort').selectOption(sort);
    await page.getByTestId('search-input').fill(q);
    await page.getByTestId('search-input').press('Enter');
    await eventually(async () => !/Searching/.test(await page.getByTestId('search-status').textContent()) &&
      (await page.getByTestId('search-status').textContent()) !== '', { what: `the results of ${q}` });
  }

  async function results() {
    return page.getByTestId('search-results').locator('li').evaluateAll((lis) => lis.map((li) => ({
      response: li.dataset.response, question: li.dataset.question,
      text: li.querySelector('blockquote').textContent, marks: [...li.querySelectorAll('mark')].map((m) => m.textContent),
    })));
  }

  searchTest('search: matching comments newest first, each with its words highlighted, and more pages', async () => {
    await searchFor('refund');
    const want = newestFirst(seeded).flatMap((r) => textsOf(r).filter(([, t]) => words(t).includes('refund'))
      .map(([q, t]) => ({ response: r.id, question: q, text: t })));
    const matching = new Set(want.map((x) => x.response));
    assert.ok(matching.size > 20, `the seed has ${matching.size} matching responses: more than a page of 20`);
    let got = await results();
    // The first page is the newest 20 responses; each shows every matching answer of its own.
    const firstIds = [...new Set(newestFirst(seeded).filter((r) => textsOf(r).some(([, t]) => words(t).includes('refund'))).map((r) => r.id))].slice(0, 20);
    assert.deepEqual([...new Set(got.map((x) => x.response))], firstIds);
    await page.getByTestId('search-more').click();
    await eventually(async () => (await results()).length === want.length, { what: 'the second page' });
    got = await results();
    assert.deepEqual(got.map(({ response, question, text }) => ({ response, question, text })), want);
    for (const x of got) {
      assert.ok(x.marks.length >= 1, JSON.stringify(x));
      for (const m of x.marks) assert.equal(fold(m), 'refund', JSON.stringify(x));
      assert.equal(x.marks.length, words(x.text).filter((w) => w === 'refund').length, JSON.stringify(x));
    }
    assert.equal(await page.getByTestId('search-more').isHidden(), true);
    assert.match(await page.getByTestId('search-status').textContent(), new RegExp(`^${want.length} matching comments$`));
  });

  searchTest('search: diacritics folded, phrases, relevance and a query that does not parse', async () => {
    await searchFor('creme');
    let got = await results();
    assert.ok(got.length > 0);
    for (const x of got) assert.deepEqual(x.marks, ['Crème'], JSON.stringify(x));

    await searchFor('"lost parcel"');
    got = await results();
    const want = seeded.filter((r) => / lost parcel/.test(r.answers.why || '') || /^lost parcel/.test(r.answers.why || '')).length;
    assert.equal(got.length, want);
    for (const x of got) assert.deepEqual(x.marks, ['lost parcel'], JSON.stringify(x));

    // Best match first: the answer that says refund three times in four words leads.
    await searchFor('refund', 'relevance');
    got = await results();
    assert.equal(got[0].text, 'refund refund refund please');
    assert.deepEqual(got[0].marks, ['refund', 'refund', 'refund']);

    await searchFor('(refund');
    assert.match(await page.getByTestId('search-status').textContent(), /can’t be read: .*character 0/);
    assert.equal((await results()).length, 0);
  });

  test('detractor verbatims: the newest detractors\' comments and write-ins', async () => {
    const want = newestFirst(seeded).filter((r) => r.answers.rec <= 6).flatMap((r) => textsOf(r).map(([, t]) => t)).slice(0, 10);
    await eventually(async () => (await page.getByTestId('detractor-verbatims').locator('blockquote').count()) === want.length,
      { what: 'the verbatims' });
    assert.deepEqual(await page.getByTestId('detractor-verbatims').locator('blockquote').allTextContents(), want);
  });

  test('what detractors write about: the words, their counts, share and lift', async () => {
    const detractors = seeded.filter((r) => r.answers.rec <= 6 && textsOf(r).length);
    const counts = new Map();
    for (const r of detractors) {
      for (const w of new Set(textsOf(r).flatMap(([, t]) => words(t)))) {
        if (['the', 'for', 'and'].includes(w)) continue; // the built-in stop words among the seed's words
        counts.set(w, (counts.get(w) || 0) + 1);
      }
    }
    const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
    await eventually(async () => (await page.getByTestId('detractor-terms').locator('tbody tr').count()) === top.length, { what: 'the terms' });
    const rows = await page.getByTestId('detractor-terms').locator('tbody tr').evaluateAll((trs) => trs.map((tr) =>
      [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    assert.deepEqual(rows.map((r) => [r[0], Number(r[1])]), top);
    for (const [i, [, n]] of top.entries()) {
      assert.equal(rows[i][2], `${(Math.round((n / detractors.length) * 1000) / 10).toFixed(1)}%`, rows[i][0]);
    }
  });

  test('the search box is offered exactly when the server searches', async () => {
    const shown = async (id) => page.evaluate((x) => { const e = document.getElementById(x); return !!e && !e.hidden && e.offsetParent !== null; }, id);
    await eventually(async () => (await shown('search-card')) === searchable, { what: 'the search card to match the server' });
    // The detractor views stay either way; with both kinds of card the grid has two columns.
    assert.equal(await shown('verbatims-card'), true);
    assert.equal(await shown('terms-card'), true);
    assert.equal(await page.evaluate(() => document.getElementById('comment-views').classList.contains('one')), !searchable);
  });

  test('topics: no topic card while the survey has none (or the server has no topics: 404/501)', async () => {
    const r = await api(daemon.base, 'GET', '/v1/surveys/voice/topics', { token: READ });
    assert.ok([404, 501].includes(r.status) || (r.status === 200 && r.body.topics.length === 0), JSON.stringify(r));
    await eventually(async () => page.evaluate(() => document.getElementById('footer').textContent !== ''), { what: 'a drawn page' });
    assert.equal(await page.evaluate(() => document.getElementById('topic-views').hidden), true);
    assert.equal(await page.getByTestId('topics').locator('tr').count(), 0);
  });

  test('topics: each topic\'s responses, NPS with CI, detractors vs promoters and the test, against a model of the seed', async () => {
    for (const t of TOPICS) {
      const r = await api(daemon.base, 'PUT', `/v1/surveys/voice/topics/${t.id}`, { body: { title: t.title, query: t.query } });
      assert.equal(r.status, 201, JSON.stringify(r.body)); // both backends have topics
    }
    // SQLite back-fills after the PUTs (in batches through the writer): the figures below are the
    // finished ones.
    await eventually(async () => (await api(daemon.base, 'GET', '/v1/surveys/voice/topics', { token: READ }))
      .body.topics.every((t) => t.backfill.state === 'done'), { what: 'the back-fills done' });
    await page.reload();
    await eventually(async () => page.evaluate(() => document.getElementById('footer').textContent !== ''), { what: 'a drawn page' });
    const all = seeded.filter((r) => typeof r.answers.rec === 'number');
    const D = all.filter((r) => r.answers.rec <= 6).length, P = all.filter((r) => r.answers.rec >= 9).length;
    const want = TOPICS.map((t) => {
      const tagged = seeded.filter((r) => t.match(textsOf(r).flatMap(([, x]) => words(x))));
      const score = nps(tagged.map((r) => r.answers.rec));
      const kd = tagged.filter((r) => r.answers.rec <= 6).length, kp = tagged.filter((r) => r.answers.rec >= 9).length;
      const pooled = (kd + kp) / (D + P);
      const z = (kd / D - kp / P) / Math.sqrt(pooled * (1 - pooled) * (1 / D + 1 / P));
      const p = twoSidedP(z);
      return {
        id: t.id, title: t.title, sub: t.query, n: tagged.length,
        nps: two(score.score), ci: `${two(score.ci[0])} to ${two(score.ci[1])}`,
        shares: `${two(100 * kd / D)}% vs ${two(100 * kp / P)}%`,
        test: (p < 0.00005 ? 'p < 0.0001' : `p = ${p.toFixed(4)}`) + (p < 0.05 ? ' ✱ significant' : ''),
      };
    }).sort((a, b) => b.n - a.n || (a.id < b.id ? -1 : 1));
    assert.ok(want.some((w) => /significant/.test(w.test)) && want.some((w) => !/significant/.test(w.test)), JSON.stringify(want));
    await eventually(async () => (await page.getByTestId('topics').locator('tbody tr').count()) === TOPICS.length, { what: 'the topic rows' });
    const got = await page.getByTestId('topics').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => {
      const td = [...tr.querySelectorAll('td')], sub = (c) => c.querySelector('.sub')?.textContent;
      return {
        id: tr.dataset.topic, title: td[0].firstChild.textContent, sub: sub(td[0]), n: Number(td[1].textContent.replace(/,/g, '')),
        nps: td[2].firstChild.textContent, ci: sub(td[2]), shares: td[3].firstChild.textContent, test: sub(td[3]),
      };
    }));
    assert.deepEqual(got, want);
    assert.equal(await page.getByTestId('topics').locator('table').isVisible(), true, 'the topic table is shown');
    await assertNoAxeViolations(page, 'the topic table');
    // Four columns still fit a 375 px phone.
    await page.setViewportSize({ width: 375, height: 812 });
    try {
      await eventually(async () => (await page.evaluate(() => document.documentElement.scrollWidth)) === 375, { what: 'no sideways scroll at 375 px', timeoutMs: 3000 });
      await page.getByTestId('topics').screenshot({ path: join(ARTIFACTS, 'dashboard-topics-phone.png') });
    } finally {
      await page.setViewportSize({ width: 1280, height: 1400 });
    }
  });

  test('a survey without an NPS question: no detractor views (nor their requests), search at full width', async () => {
    const asked = [];
    const log = (req) => asked.push(new URL(req.url()).pathname + new URL(req.url()).search);
    page.on('request', log);
    await page.locator('#survey').selectOption('plain');
    await eventually(async () => page.evaluate(() => document.getElementById('verbatims-card').hidden), { what: 'the verbatims to go' });
    const state = await page.evaluate(() => ({
      verbatims: document.getElementById('verbatims-card').hidden, terms: document.getElementById('terms-card').hidden,
      detractors: document.getElementById('detractor-views').hidden, section: document.getElementById('comment-views').hidden,
      one: document.getElementById('comment-views').classList.contains('one'),
    }));
    page.off('request', log);
    assert.deepEqual(state, { verbatims: true, terms: true, detractors: true, section: !searchable, one: true });
    assert.deepEqual(asked.filter((u) => u.includes('/terms')), [], 'no terms request for a survey without NPS');
    if (searchable) {
      await searchFor('refund');
      assert.deepEqual((await results()).map((x) => x.text), ['refund please']);
      await assertNoAxeViolations(page, 'comment views of a survey without NPS');
    }
    await page.locator('#survey').selectOption('voice');
    await eventually(async () => !(await page.evaluate(() => document.getElementById('verbatims-card').hidden)), { what: 'the verbatims back' });
    // Another survey's results are cleared, not left to mislead.
    assert.equal(await page.getByTestId('search-results').locator('li').count(), 0);
  });

  searchTest('keyboard only: type, Enter, then "More results" with Enter; the count is announced', async () => {
    await page.getByTestId('search-input').fill('');
    await page.getByTestId('search-sort').selectOption('newest');
    await page.getByTestId('search-input').focus();
    await page.keyboard.type('parcel OR refund');
    await page.keyboard.press('Enter');
    await eventually(async () => /matching comments so far$/.test(await page.getByTestId('search-status').textContent()), { what: 'the first page' });
    assert.equal(await page.getByTestId('search-status').getAttribute('role'), 'status');
    const want = seeded.filter((r) => textsOf(r).some(([, t]) => words(t).includes('parcel') || words(t).includes('refund')))
      .flatMap((r) => textsOf(r).filter(([, t]) => words(t).includes('parcel') || words(t).includes('refund'))).length;
    // Tab from the box reaches the order, Search, then More results.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'search-more');
    while (await page.getByTestId('search-more').isVisible()) {
      const before = await page.getByTestId('search-results').locator('li').count();
      await page.getByTestId('search-more').focus();
      await page.keyboard.press('Enter');
      await eventually(async () => (await page.getByTestId('search-results').locator('li').count()) > before, { what: 'another page' });
      await eventually(async () => !/Searching/.test(await page.getByTestId('search-status').textContent()), { what: 'the count' });
    }
    assert.equal(await page.getByTestId('search-results').locator('li').count(), want);
    assert.equal(await page.getByTestId('search-status').textContent(), `${want} matching comments`);
  });

  test('axe: the comment views, with results and an error shown', async () => {
    if (searchable) await searchFor('parcel');
    await page.screenshot({ path: join(ARTIFACTS, `dashboard-comments${backend === 'sqlite' ? '' : '-' + backend}.png`), fullPage: true });
    await assertNoAxeViolations(page, 'comment views' + (searchable ? ' with results' : ' without search'));
    if (!searchable) return;
    await searchFor('refund OR');
    await assertNoAxeViolations(page, 'comment views with a query error');
  });
}

describe('SQLite', () => comments('sqlite'));
describe('PostgreSQL', { skip: POSTGRES ? false : 'SURVEYD_TEST_POSTGRES is unset' }, () => comments('postgresql'));
