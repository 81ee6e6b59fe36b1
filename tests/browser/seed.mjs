// Deterministic, realistic-looking survey data for the dashboard: a seeded PRNG, so every run
// (and the expected figures computed from it) is the same apart from the dates.
import { api } from './lib.mjs';

export const SUPPORT = {
  title: 'Support follow-up',
  public: true,
  questions: [
    { id: 'rec', type: 'nps', text: 'How likely are you to recommend ACME to a friend or colleague?', required: true },
    { id: 'sat', type: 'csat', scale: 5, text: 'How satisfied are you with the support you received?' },
    { id: 'easy', type: 'ces', scale: 7, text: 'How easy was it to get your issue handled?' },
    { id: 'resolved', type: 'yes_no', text: 'Was it resolved on first contact?' },
    { id: 'comment', type: 'text', max_length: 2000, text: 'Anything else you would like to tell us?' },
  ],
};

const COMMENTS = {
  high: [
    'Quick and friendly, solved in one chat.',
    'Maria was fantastic — she walked me through the whole export step by step.',
    'Great support as always. Thanks!',
    'Fast answer, and the fix worked right away.',
    'Really appreciated the follow-up email the next day.',
    'Clear explanation, no jargon. 10/10.',
  ],
  mid: [
    'Fine, but I had to explain the problem twice.',
    'Got there in the end; the wait on the phone was a bit long.',
    'Helpful, though the knowledge base article was out of date.',
    'OK experience. Would be nice to have chat on weekends.',
  ],
  low: [
    'Three days for a reply is too slow for a billing issue.',
    'I was transferred four times and still had to call back.',
    'The agent closed the ticket before the problem was fixed.',
    'Refund still not processed after two weeks.',
  ],
};

export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(rand, weights) {
  const total = weights.reduce((a, b) => a + b, 0);
  let x = rand() * total;
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i];
    if (x < 0) return i;
  }
  return weights.length - 1;
}

export function utcDay(date = new Date()) {
  return date.toISOString().slice(0, 10);
}
export function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return utcDay(d);
}

// `count` responses spread over the `days` UTC days that end with `lastDay` (never after `now`).
// `lift` shifts the NPS answers upward over the period (a trend worth seeing).
export function makeResponses({ seed, count, lastDay, days, now = Date.now(), lift = 0 }) {
  const rand = prng(seed);
  const channels = ['chat', 'chat', 'chat', 'email', 'email', 'phone', 'web'];
  const agents = ['agent-ana', 'agent-ben', 'agent-chloe', 'agent-dev', 'agent-eli'];
  const out = [];
  for (let i = 0; i < count; i++) {
    const k = Math.floor(rand() * days); // days before lastDay
    const dayStart = Date.parse(`${addDays(lastDay, -k)}T00:00:00Z`);
    let at = dayStart + Math.floor(rand() * 86400000);
    if (at > now - 1000) at = dayStart + Math.floor(rand() * Math.max(1, now - 1000 - dayStart));
    const progress = 1 - k / days;
    const shift = Math.round(lift * progress * rand());
    const rec = Math.min(10, pick(rand, [3, 2, 2, 3, 3, 5, 7, 11, 15, 20, 22]) + shift);
    const answers = { rec };
    if (rand() < 0.9) answers.sat = Math.max(1, Math.min(5, Math.round(rec / 2.2 + rand() * 1.6 - 0.3)));
    if (rand() < 0.85) answers.easy = Math.max(1, Math.min(7, Math.round(rec / 1.8 + rand() * 2.4 - 0.6)));
    if (rand() < 0.8) answers.resolved = rand() < 0.35 + rec / 16;
    if (rand() < 0.35) {
      const pool = rec >= 9 ? COMMENTS.high : rec >= 7 ? COMMENTS.mid : COMMENTS.low;
      answers.comment = pool[Math.floor(rand() * pool.length)];
    }
    out.push({
      answers,
      channel: channels[Math.floor(rand() * channels.length)],
      agent: agents[Math.floor(rand() * agents.length)],
      submitted_at: new Date(at).toISOString(),
    });
  }
  return out;
}

export async function postAll(base, survey, responses, parallel = 16) {
  for (let i = 0; i < responses.length; i += parallel) {
    const batch = responses.slice(i, i + parallel);
    const results = await Promise.all(batch.map((body) => api(base, 'POST', `/v1/surveys/${survey}/responses`, { body })));
    for (const r of results) if (r.status !== 201) throw new Error(`seeding failed: ${r.status} ${JSON.stringify(r.body)}`);
  }
}
