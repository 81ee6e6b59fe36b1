// The widget against WCAG 2.2 AA (issue 13): axe-core on every state (open, partly answered, errors,
// sent), forced colours, and phones of 320 and 375 px: what a person sees, measured in the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, api, assertNoAxeViolations, launchBrowser, startDaemon, startHost, toDocs } from './lib.mjs';

const SURVEY = {
  title: 'Support follow-up',
  public: true,
  questions: [
    { id: 'rec', type: 'nps', text: 'How likely are you to recommend us?', required: true },
    { id: 'sat', type: 'csat', scale: 5, text: 'How satisfied are you with the support?' },
    { id: 'easy', type: 'ces', scale: 7, text: 'How easy was it to get your issue handled?' },
    { id: 'resolved', type: 'yes_no', text: 'Was it resolved on first contact?' },
    { id: 'expect', type: 'choice', options: ['met', 'exceeded', 'fell short'], allow_other: true, text: 'Did we meet your expectations?' },
    { id: 'comment', type: 'text', max_length: 500, text: 'Anything else?', required: true },
  ],
};

let daemon, host, browser;

// A host page as a phone or desktop site would have it: a heading, a main landmark, page margins.
function page(margin) {
  return () => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ACME support</title><style>body{font-family:sans-serif;margin:${margin}px;background:#f6f7f9}</style></head>
<body><main><h1>Thanks for contacting ACME support</h1>
<script src="${daemon.base}/widget.js" data-survey="a11y" data-channel="web" async></script>
</main></body></html>`;
}

before(async () => {
  host = await startHost({ '/': page(24), '/phone': page(16) });
  daemon = await startDaemon({ SURVEYD_CORS_ORIGINS: host.origin });
  const r = await api(daemon.base, 'PUT', '/v1/surveys/a11y', { body: SURVEY });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
  await host?.stop();
});

async function open(path, options = {}) {
  const context = await browser.newContext({ viewport: { width: 720, height: 1100 }, ...options });
  const p = await context.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(e));
  await p.goto(host.origin + path);
  await p.locator('.surveyd-widget form').waitFor();
  return { page: p, context, errors };
}

const radiogroup = (p, name) => p.getByRole('radiogroup', { name });

test('axe: no violation in any state of the widget (open, errors, partly answered, sent)', async () => {
  const { page: p, context, errors } = await open('/');
  await assertNoAxeViolations(p, 'widget open');

  // Errors: Send with the required questions unanswered. Each is marked invalid and tied to its message.
  await p.getByRole('button', { name: 'Send' }).click();
  const nps = radiogroup(p, /How likely/);
  assert.equal(await nps.getAttribute('aria-invalid'), 'true');
  const described = (await nps.getAttribute('aria-describedby')).split(' ');
  const messages = await Promise.all(described.map((id) => p.locator(`[id="${id}"]`).textContent()));
  assert.ok(messages.includes('Please answer this question.'), JSON.stringify(messages));
  assert.ok(messages.includes('Not likelyVery likely'), 'the scale ends still describe it');
  const comment = p.getByRole('textbox', { name: 'Anything else?' });
  assert.equal(await comment.getAttribute('aria-invalid'), 'true');
  assert.equal(await p.locator(`[id="${await comment.getAttribute('aria-describedby')}"]`).textContent(), 'Please answer this question.');
  assert.equal(await p.evaluate(() => document.activeElement.type), 'radio', 'focus goes to the first unanswered question');
  assert.match(await p.locator('.surveyd-widget form > .sd-err').textContent(), /marked with an asterisk/);
  await p.screenshot({ path: join(ARTIFACTS, 'widget-errors.png'), fullPage: true });
  await assertNoAxeViolations(p, 'widget errors');

  // Partly answered: NPS 9 with the keyboard (the error on it goes), CSAT 4.
  await p.keyboard.press('ArrowRight'); // focus was on 0: 1
  for (let i = 0; i < 8; i++) await p.keyboard.press('ArrowRight');
  assert.equal(await nps.getAttribute('aria-invalid'), null, 'answering clears the error');
  assert.equal(await p.locator('#' + (await nps.getAttribute('aria-labelledby')) + '-err').textContent(), '');
  await p.getByRole('radiogroup', { name: /How satisfied/ }).getByRole('radio', { name: '4', exact: true }).check();
  await assertNoAxeViolations(p, 'widget partly answered');

  // The question is announced once: the radiogroup is the fieldset itself, not a group inside a group.
  const named = await p.locator('.surveyd-widget [aria-labelledby]').evaluateAll((els) => els.map((e) => e.getAttribute('aria-labelledby')));
  assert.equal(named.length, new Set(named).size, `one element per question name: ${named}`);
  assert.equal(await p.locator('.surveyd-widget [role=radiogroup] [role=radiogroup]').count(), 0);

  // Sent.
  await comment.fill('All good');
  await p.getByRole('button', { name: 'Send' }).click();
  await p.locator('.surveyd-widget .sd-done').waitFor();
  await assertNoAxeViolations(p, 'widget sent');
  assert.deepEqual(errors, []);
  await context.close();
});

// The selected option's box against the others', as the browser computes them.
async function optionStyles(p, groupName) {
  return radiogroup(p, groupName).locator('.sd-opt > span').evaluateAll((spans) => spans.map((s) => {
    const c = getComputedStyle(s);
    return { checked: s.previousElementSibling.checked, bg: c.backgroundColor, color: c.color, weight: c.fontWeight, shadow: c.boxShadow };
  }));
}

test('forced colours: the selected answer differs from the others', async () => {
  const { page: p, context } = await open('/', { forcedColors: 'active' });
  assert.equal(await p.evaluate(() => matchMedia('(forced-colors: active)').matches), true);
  await radiogroup(p, /How likely/).getByRole('radio', { name: '7', exact: true }).check();
  await radiogroup(p, /resolved/).getByRole('radio', { name: 'Yes', exact: true }).check();
  for (const name of [/How likely/, /resolved/]) {
    const styles = await optionStyles(p, name);
    const on = styles.filter((s) => s.checked);
    const off = styles.filter((s) => !s.checked);
    assert.equal(on.length, 1);
    for (const o of off) {
      assert.notEqual(on[0].bg, o.bg, `background of the selected option under forced colours (${name})`);
      assert.notEqual(on[0].color, o.color, `text colour of the selected option under forced colours (${name})`);
    }
  }
  await p.screenshot({ path: join(ARTIFACTS, 'widget-forced-colors.png'), fullPage: true });
  toDocs('widget-forced-colors.png');
  await assertNoAxeViolations(p, 'widget under forced colours');
  await context.close();
});

test('never colour alone: the selected answer is also bold and ringed', async () => {
  const { page: p, context } = await open('/');
  await radiogroup(p, /How likely/).getByRole('radio', { name: '3', exact: true }).check();
  const styles = await optionStyles(p, /How likely/);
  const on = styles.find((s) => s.checked);
  for (const o of styles.filter((s) => !s.checked)) {
    assert.notEqual(on.weight, o.weight);
    assert.notEqual(on.shadow, o.shadow);
  }
  await context.close();
});

// Every option's box and the end labels' boxes, in CSS pixels.
async function scaleGeometry(p, name) {
  const group = radiogroup(p, name);
  const options = await group.locator('.sd-opt > span').evaluateAll((s) => s.map((e) => e.getBoundingClientRect().toJSON()));
  const ends = await group.locator('.sd-ends > span').evaluateAll((s) => s.map((e) => e.getBoundingClientRect().toJSON()));
  return { options, ends };
}

for (const [width, path] of [[320, '/phone'], [375, '/']]) {
  test(`a ${width} px phone: NPS in one row with its end labels under 0 and 10, every scale's labels apart`, async () => {
    const { page: p, context } = await open(path, { viewport: { width, height: 900 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    assert.equal(await p.evaluate(() => document.documentElement.scrollWidth), width, 'no horizontal scrolling');
    const nps = await scaleGeometry(p, /How likely/);
    assert.equal(nps.options.length, 11);
    assert.equal(new Set(nps.options.map((o) => Math.round(o.top))).size, 1, `0-10 in one row: tops ${nps.options.map((o) => o.top)}`);
    for (const o of nps.options) assert.ok(o.width >= 24 && o.height >= 24, `a target of at least 24x24 px: ${o.width}x${o.height}`);
    const [lo, hi] = nps.ends;
    assert.ok(Math.abs(lo.left - nps.options[0].left) <= 1, `"Not likely" starts under 0 (${lo.left} vs ${nps.options[0].left})`);
    assert.ok(Math.abs(hi.right - nps.options[10].right) <= 1, `"Very likely" ends under 10 (${hi.right} vs ${nps.options[10].right})`);
    assert.ok(lo.top >= nps.options[0].bottom, 'the end labels are under the scale');
    for (const name of [/How likely/, /How satisfied/, /How easy/]) {
      const { options, ends } = await scaleGeometry(p, name);
      assert.equal(new Set(options.map((o) => Math.round(o.top))).size, 1, `${name} in one row`);
      assert.equal(ends.length, 2);
      const gap = ends[1].left - ends[0].right;
      assert.ok(gap >= 8, `${name}: the end labels are ${gap.toFixed(1)} px apart`);
      assert.ok(ends[1].right <= options.at(-1).right + 1 && ends[0].left >= options[0].left - 1, `${name}: the labels stay under the scale`);
    }
    await p.screenshot({ path: join(ARTIFACTS, `widget-phone-${width}.png`), fullPage: true });
    if (width === 375) toDocs('widget-phone-375.png');
    await assertNoAxeViolations(p, `widget at ${width} px`);
    await context.close();
  });
}
