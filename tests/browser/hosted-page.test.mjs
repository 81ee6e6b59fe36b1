// The hosted survey page of invitation links (GET/POST /s/{token}, issue 16) in real Chromium:
// (1) a browser that only loads the page records nothing; (2) a person clicks 9 in the invitation's
// email HTML, the page shows 9 chosen, Send stores it once with the invitation's fields, a comment
// added updates the same response; (3) without JavaScript the form works end to end; (4) keyboard
// only, and axe-core finds no violation in any state; (5) with ?a=, the value is recorded once a
// person interacts (a key, a scroll), never on load, and its answer says "interaction".
// Invitations are written into the daemon's SQLite file (as the store keeps them: the token's
// SHA-256), except in (2), whose email HTML comes from POST /v1/surveys/{survey}/invitations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { ARTIFACTS, api, assertNoAxeViolations, eventually, launchBrowser, startDaemon, startHost, toDocs } from './lib.mjs';

// Headless Chromium says "HeadlessChrome" in its User-Agent, which the page rightly takes for a
// scanner; the person in these tests uses an ordinary browser's.
const PERSON_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SURVEY = {
  title: 'How did we do?',
  questions: [
    { id: 'nps', type: 'nps', text: 'How likely are you to recommend ACME to a friend?', required: true },
    { id: 'solved', type: 'yes_no', text: 'Was your problem solved?' },
    { id: 'topic', type: 'choice', options: ['Billing', 'Delivery', 'Product'], allow_other: true, text: 'What was it about?' },
    { id: 'comment', type: 'text', max_length: 500, text: 'Anything else you would like to tell us?' },
  ],
};
const DAY_MS = 24 * 3600 * 1000;

let daemon, browser;
let n = 0;

before(async () => {
  // Links are made only with a public base; the daemon's port is known only once it listens, so
  // the email's links are pointed at it afterwards (the base is the page's, not part of the test).
  daemon = await startDaemon({ SURVEYD_RATE_LIMIT: '0', SURVEYD_PUBLIC_URL: 'https://surveys.example.com' });
  const r = await api(daemon.base, 'PUT', '/v1/surveys/support', { body: SURVEY });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

const db = () => join(daemon.dataDir, 'surveyd.db');
const quote = (v) => (v == null ? 'NULL' : `'${String(v).replaceAll("'", "''")}'`);

function sql(statement) {
  return execFileSync('sqlite3', ['-json', '-cmd', '.timeout 5000', db(), statement], { encoding: 'utf8' });
}

// A sent invitation as the store keeps it; returns its id, token and link.
function invite({ customer = 'cust-1', channel = 'email', agent = 'agent-7', interaction = null } = {}) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const token = Array.from({ length: 32 }, () => alphabet[randomInt(32)]).join('');
  const id = `inv${++n}${randomBytes(4).toString('hex')}`;
  const hash = createHash('sha256').update(token).digest('hex');
  const now = Date.now();
  sql(`INSERT INTO invitations (id, survey, customer, channel, agent, interaction, outcome, token_hash, form_key,
       created_at, expires_at) VALUES (${quote(id)}, 'support', ${quote(customer)}, ${quote(channel)}, ${quote(agent)},
       ${quote(interaction)}, 0, X'${hash}', ${quote(randomBytes(16).toString('hex'))}, ${now}, ${now + 7 * DAY_MS})`);
  return { id, token, url: `${daemon.base}/s/${token}` };
}

function invitation(id) {
  const rows = JSON.parse(sql(`SELECT opened_at, responded_at, response_id, automated_visits, captured
                               FROM invitations WHERE id = ${quote(id)}`) || '[]');
  assert.equal(rows.length, 1);
  return { ...rows[0], captured: rows[0].captured ? JSON.parse(rows[0].captured) : null };
}

async function responses() {
  const r = await api(daemon.base, 'GET', '/v1/surveys/support/responses');
  assert.equal(r.status, 200);
  return r.body.responses;
}

async function open(url, options = {}) {
  const context = await browser.newContext({ userAgent: PERSON_UA, viewport: { width: 1000, height: 900 }, ...options });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  // Console errors other than a refused page's status (422, 404: the tests ask for those).
  page.on('console', (m) => m.type() === 'error' && !/status of (422|404)/.test(m.text()) && errors.push(new Error(m.text())));
  await page.goto(url);
  return { page, context, errors };
}

const checkedValue = (page, name) => page.locator(`input[name="${name}"]:checked`).getAttribute('value');

test('(1) a browser that only loads the page records nothing', async () => {
  const inv = invite();
  const { page, context, errors } = await open(`${inv.url}?a=9`);
  assert.equal(await checkedValue(page, 'nps'), '9');
  // Time for any script to act on its own: nothing may be sent without a person's interaction.
  await page.waitForTimeout(1500);
  assert.deepEqual(await responses(), []);
  const row = invitation(inv.id);
  assert.equal(row.responded_at, 0);
  assert.ok(row.opened_at > 0, 'a person-like visit opens the invitation');
  assert.deepEqual(errors, []);
  await context.close();

  // Headless Chromium with its own User-Agent: an automated visit, counted, not even opened.
  const bot = invite();
  const headless = await browser.newContext();
  const p = await headless.newPage();
  await p.goto(`${bot.url}?a=10`);
  await p.waitForTimeout(500);
  assert.deepEqual(await responses(), []);
  assert.equal(invitation(bot.id).automated_visits, 1);
  assert.equal(invitation(bot.id).opened_at, 0);
  await headless.close();
});

test('(2) a person clicks 9 in the email, sends it, then adds a comment: one response, updated', async (t) => {
  const created = await api(daemon.base, 'POST', '/v1/surveys/support/invitations', {
    body: { customer: 'cust-email', channel: 'email', agent: 'agent-3', interaction: 'T-1001' },
  });
  if (created.status === 404 || created.status === 405) {
    t.skip('POST /v1/surveys/{survey}/invitations is not in this build');
    return;
  }
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const origin = new URL(created.body.url).origin;
  const inbox = (html) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Inbox</title></head>
<body style="margin:0;background:#eef0f3;padding:24px">${html}</body></html>`;
  const mail = await startHost({
    '/as-sent': inbox(created.body.email_html),                                 // for the screenshot
    '/mail': inbox(created.body.email_html.replaceAll(origin, daemon.base)),   // links to this daemon
  });
  try {
    const shot = await open(`${mail.origin}/as-sent`, { viewport: { width: 720, height: 260 } });
    await shot.page.screenshot({ path: join(ARTIFACTS, 'invitation-email.png'), fullPage: true });
    toDocs('invitation-email.png');
    await shot.context.close();
    const { page, context, errors } = await open(`${mail.origin}/mail`, { viewport: { width: 720, height: 800 } });
    await Promise.all([page.waitForURL(/\/s\/[^?]+\?a=9$/), page.getByRole('link', { name: '9', exact: true }).click()]);
    await page.locator('form').waitFor();
    assert.equal(await checkedValue(page, 'nps'), '9');
    assert.deepEqual(await responses(), [], 'following the link stores nothing');

    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send' }).click()]);
    await page.getByText('Your answers have been saved').waitFor();
    let stored = await responses();
    assert.equal(stored.length, 1);
    assert.deepEqual(stored[0].answers, { nps: 9 });
    assert.equal(stored[0].customer, 'cust-email');
    assert.equal(stored[0].channel, 'email');
    assert.equal(stored[0].agent, 'agent-3');
    assert.equal(stored[0].interaction, 'T-1001');

    await page.getByLabel('Anything else you would like to tell us?').fill('Fast and friendly.');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send' }).click()]);
    stored = await responses();
    assert.equal(stored.length, 1, 'the comment updates the same response');
    assert.deepEqual(stored[0].answers, { nps: 9, comment: 'Fast and friendly.' });
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await mail.stop();
  }
});

test('(3) without JavaScript the form works end to end', async () => {
  const inv = invite({ customer: 'cust-nojs', interaction: 'T-nojs' });
  const { page, context } = await open(`${inv.url}?a=7`, { javaScriptEnabled: false });
  assert.equal(await checkedValue(page, 'nps'), '7');
  await page.getByRole('radio', { name: '8' }).check();
  await page.getByRole('radio', { name: 'Delivery' }).check();
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send' }).click()]);
  await page.getByText('Your answers have been saved').waitFor();
  assert.equal(await page.locator('input[name="nps"]').count(), 0, 'answered questions are not asked again');
  await page.getByRole('radio', { name: 'Yes' }).check();
  await page.getByLabel('Anything else you would like to tell us?').fill('No script needed.');
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send' }).click()]);
  await page.getByRole('heading', { name: 'Thank you!' }).waitFor();
  const mine = (await responses()).filter((r) => r.interaction === 'T-nojs');
  assert.equal(mine.length, 1);
  assert.deepEqual(mine[0].answers, { nps: 8, solved: true, topic: 'Delivery', comment: 'No script needed.' });
  assert.equal(mine[0].customer, 'cust-nojs');
  assert.deepEqual(invitation(inv.id).captured, { nps: 'submit', topic: 'submit', solved: 'submit', comment: 'submit' });
  await context.close();
});

test('(4) keyboard only, labelled, and no axe violation in any state', async () => {
  const inv = invite({ interaction: 'T-keys' });
  const { page, context, errors } = await open(inv.url);
  await assertNoAxeViolations(page, 'open');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.ok((await page.title()).length > 0);
  // Every question is a named group; every choice a labelled radio.
  assert.equal(await page.getByRole('radiogroup', { name: /recommend ACME/ }).count(), 1);
  assert.equal(await page.getByRole('radiogroup', { name: 'What was it about?' }).count(), 1);
  assert.equal(await page.getByRole('radio', { name: '10' }).count(), 1);

  // Send with nothing chosen: errors, each tied to its question, the summary read first.
  await page.keyboard.press('Tab');   // the first radio of the first question
  let focused = await page.evaluate(() => document.activeElement.name);
  assert.equal(focused, 'nps');
  // The focus is visible: the chosen-looking box around the focused radio gets an outline.
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement.nextElementSibling).outlineStyle);
  assert.notEqual(outline, 'none');
  for (let i = 0; i < 5; i++) await page.keyboard.press('Tab'); // past the other groups and the text fields
  focused = await page.evaluate(() => document.activeElement.textContent);
  assert.equal(focused, 'Send');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  await page.locator('#sd-summary').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'sd-summary');
  assert.equal(await page.getAttribute('#q-nps', 'aria-invalid'), 'true');
  await assertNoAxeViolations(page, 'errors');

  // Choose 9 with the arrow keys and send with Enter.
  await page.keyboard.press('Tab');   // the summary's link
  await page.keyboard.press('Tab');   // the first radio
  for (let i = 0; i < 9; i++) await page.keyboard.press('ArrowRight');
  assert.equal(await checkedValue(page, 'nps'), '9');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  await page.getByText('Your answers have been saved').waitFor();
  await assertNoAxeViolations(page, 'partly answered');
  const mine = (await responses()).filter((r) => r.interaction === 'T-keys');
  assert.equal(mine.length, 1);
  assert.deepEqual(mine[0].answers, { nps: 9 });
  await page.screenshot({ path: join(ARTIFACTS, 'hosted-page-follow-up.png'), fullPage: true });

  // The short pages: thank you, not found.
  await page.getByRole('radio', { name: 'No' }).check();
  await page.getByRole('radio', { name: 'Billing' }).check();
  await page.getByLabel('Anything else you would like to tell us?').fill('Thanks');
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send' }).press('Enter')]);
  await page.getByRole('heading', { name: 'Thank you!' }).waitFor();
  await assertNoAxeViolations(page, 'thank you');
  const missing = await page.goto(`${daemon.base}/s/nosuchtoken`);
  assert.equal(missing.status(), 404);
  await assertNoAxeViolations(page, 'not found');
  assert.deepEqual(errors, []);
  await context.close();
});

test('(5) the link value is recorded on interaction, never on load, and captured as such', async () => {
  for (const how of ['key', 'scroll']) {
    const inv = invite({ interaction: `T-capture-${how}` });
    const { page, context, errors } = await open(`${inv.url}?a=9`, { viewport: { width: 375, height: 420 } });
    await page.waitForTimeout(1000);
    assert.equal((await responses()).filter((r) => r.interaction === `T-capture-${how}`).length, 0, 'nothing on load');
    if (how === 'key') await page.keyboard.press('Tab');
    else await page.mouse.wheel(0, 200);
    await page.getByText('Your answers have been saved').waitFor();
    const mine = await eventually(async () => {
      const rows = (await responses()).filter((r) => r.interaction === `T-capture-${how}`);
      return rows.length ? rows : null;
    }, { what: `the ${how} capture` });
    assert.equal(mine.length, 1);
    assert.deepEqual(mine[0].answers, { nps: 9 });
    assert.deepEqual(invitation(inv.id).captured, { nps: 'interaction' });
    // The rest of the form goes on as after a submit, into the same response.
    assert.equal(await page.locator('input[name="nps"]').count(), 0);
    await page.getByLabel('Anything else you would like to tell us?').fill(`by ${how}`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send' }).click()]);
    const after = (await responses()).filter((r) => r.interaction === `T-capture-${how}`);
    assert.equal(after.length, 1);
    assert.deepEqual(after[0].answers, { nps: 9, comment: `by ${how}` });
    assert.deepEqual(invitation(inv.id).captured, { nps: 'interaction', comment: 'submit' });
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test('screenshots: the page on a desktop and a phone (375 px, no horizontal scroll, nor at 320 px)', async () => {
  const inv = invite();
  for (const [name, viewport] of [['hosted-page.png', { width: 1000, height: 860 }], ['hosted-page-phone.png', { width: 375, height: 900 }],
    ['hosted-page-320.png', { width: 320, height: 900 }]]) {
    const { page, context } = await open(`${inv.url}?a=9`, { viewport, javaScriptEnabled: false });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${name}: ${overflow}px of horizontal scroll`);
    await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
    if (name !== 'hosted-page-320.png') toDocs(name);
    await context.close();
  }
});
