// Shared helpers for the browser tests: the real daemon, a second-origin host server, Chromium.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = join(here, 'artifacts');
export const REPO = resolve(here, '..', '..');
export const ADMIN = 'admin-token-browser-tests';
export const READ = 'read-token-browser-tests';
mkdirSync(ARTIFACTS, { recursive: true });

const BIN = resolve(here, process.env.SURVEYD_BIN || '../../build/server/surveyd');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

// The maintenance database of a PostgreSQL server (tests/postgres/cluster.sh prints one), or null:
// the files that run on both backends add a PostgreSQL pass when it is set.
export const POSTGRES = process.env.SURVEYD_TEST_POSTGRES || null;

function psql(uri, sql) {
  const p = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', uri, '-c', sql], { encoding: 'utf8' });
  // The URI is left out of the message on purpose: in general one may hold a password.
  if (p.status !== 0) throw new Error(`psql failed on ${sql}: ${p.stderr || p.error}`);
}

// A new, empty database on POSTGRES: { name, uri }. Unique per process and call.
let databases = 0;
function createDatabase() {
  const name = `surveyd_browser_${process.pid}_${++databases}_${Math.random().toString(16).slice(2, 10)}`;
  psql(POSTGRES, `CREATE DATABASE ${name}`);
  const [scheme, rest] = POSTGRES.split('://');
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const query = slash < 0 || !rest.includes('?', slash) ? '' : rest.slice(rest.indexOf('?', slash));
  return { name, uri: `${scheme}://${authority}/${name}${query}` };
}

// Starts `surveyd serve` on an ephemeral loopback port with its own data directory; with
// { backend: 'postgresql' }, on a new database of POSTGRES instead of the SQLite files.
export async function startDaemon(extraEnv = {}, { backend = 'sqlite' } = {}) {
  if (!existsSync(BIN)) throw new Error(`surveyd binary not found at ${BIN} (build it, or set SURVEYD_BIN)`);
  if (backend === 'postgresql' && !POSTGRES) throw new Error('PostgreSQL asked for but SURVEYD_TEST_POSTGRES is unset');
  const dataDir = mkdtempSync(join(tmpdir(), 'surveyd-browser-'));
  const database = backend === 'postgresql' ? createDatabase() : null;
  const env = {
    ...process.env,
    SURVEYD_ADMIN_TOKENS: ADMIN,
    SURVEYD_READ_TOKENS: READ,
    SURVEYD_CORS_ORIGINS: '',
    ...extraEnv,
  };
  const store = database ? ['--database', database.uri] : ['--durability', 'normal'];
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...store], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const port = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`surveyd did not start:\n${log}`)), 10000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`surveyd exited with ${code}:\n${log}`));
    });
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    port,
    base,
    dataDir,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.once('exit', ok));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
      if (database) psql(POSTGRES, `DROP DATABASE IF EXISTS ${database.name} WITH (FORCE)`);
    },
  };
}

// A tiny HTTP server on another loopback port: a different port is a different origin.
export async function startHost(pages) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const page = pages[path];
    if (page === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(typeof page === 'function' ? page() : page);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, pages, stop: () => new Promise((ok) => server.close(ok)) };
}

// Playwright's launch() gives Chromium a fresh temporary profile of its own and removes it on close.
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--headless=new',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// JSON over HTTP to the daemon (from node, not the browser).
export async function api(base, method, path, { token = ADMIN, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, body: json };
}

// Polls fn until it returns a truthy value, or fails after timeoutMs.
export async function eventually(fn, { timeoutMs = 10000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.stack : JSON.stringify(last)}`);
    await new Promise((ok) => setTimeout(ok, intervalMs));
  }
}

// Expected figures, computed here from the seed exactly as the README defines them.
const Z = 1.959964;
export function round2(x) {
  return (Math.sign(x) * Math.round(Math.abs(x) * 100 + 1e-7)) / 100;
}
export function nps(values) {
  const n = values.length;
  const p = values.filter((v) => v >= 9).length / n;
  const d = values.filter((v) => v <= 6).length / n;
  const score = 100 * (p - d);
  const variance = p + d - (p - d) ** 2;
  const moe = 196 * Math.sqrt(variance / n);
  const clamp = (x) => Math.max(-100, Math.min(100, x));
  return {
    n, score: round2(score), ci: [round2(clamp(score - moe)), round2(clamp(score + moe))], se: 100 * Math.sqrt(variance / n),
    raw: score,
    promoters: values.filter((v) => v >= 9).length, passives: values.filter((v) => v === 7 || v === 8).length,
    detractors: values.filter((v) => v <= 6).length,
  };
}
export function csat(values, scale = 5) {
  const n = values.length;
  const top = scale === 2 ? [2] : scale === 3 ? [3] : scale === 10 ? [8, 9, 10] : [scale - 1, scale];
  const q = values.filter((v) => top.includes(v)).length / n;
  const z2 = Z * Z;
  const centre = (q + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z / (1 + z2 / n)) * Math.sqrt((q * (1 - q)) / n + z2 / (4 * n * n));
  return { n, score: round2(100 * q), raw: 100 * q, ci: [round2(100 * (centre - half)), round2(100 * (centre + half))], se: 100 * Math.sqrt((q * (1 - q)) / n) };
}
export function ces(values) {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const s = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const h = (Z * s) / Math.sqrt(n);
  return { n, score: round2(mean), raw: mean, ci: [round2(mean - h), round2(mean + h)], se: s / Math.sqrt(n) };
}
// A response rate: responded of sent, in percent, with the Wilson interval (README, formulas).
export function responseRate(responded, sent) {
  const q = responded / sent;
  const z2 = Z * Z;
  const centre = (q + z2 / (2 * sent)) / (1 + z2 / sent);
  const half = (Z / (1 + z2 / sent)) * Math.sqrt((q * (1 - q)) / sent + z2 / (4 * sent * sent));
  return { rate: round2(100 * q), ci: [round2(100 * (centre - half)), round2(100 * (centre + half))] };
}
// Δ and its significance between two windows' figures (from the functions above).
// As the server does: the difference of the unrounded figures, rounded once.
export function change(cur, prev) {
  const delta = cur.raw - prev.raw;
  return { score: round2(delta), significant: Math.abs(delta) > Z * Math.sqrt(cur.se ** 2 + prev.se ** 2) };
}

// ---- accessibility helpers (issue 13) ----

const AXE_SOURCE = readFileSync(join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
// WCAG 2.0-2.2 A and AA, and axe's best practices: any violation fails the test.
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

// Runs axe-core in the page (injected through the DevTools protocol, so a page's CSP does not
// matter) and fails with every violation, its rule, the elements and why.
export async function assertNoAxeViolations(page, state) {
  const has = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!has) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }), AXE_TAGS);
  const lines = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n` +
    v.nodes.map((n) => `    ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`).join('\n'));
  assert.equal(result.violations.length, 0, `axe: ${state}: ${result.violations.length} violation(s)\n${lines.join('\n')}`);
  return result;
}

// Copies an artifact screenshot into docs/ when asked to (UPDATE_DOCS_SCREENSHOT=1).
export function toDocs(name) {
  if (process.env.UPDATE_DOCS_SCREENSHOT) copyFileSync(join(ARTIFACTS, name), join(REPO, 'docs', name));
}
