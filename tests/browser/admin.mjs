// The admin console (issue 13) in headless Chromium, as an admin would use it:
//  sign in at /signin → the users table → search for a user → their page → Deactivate →
//  the page says so → the audit log (filtered by that user) shows user_deactivated by the admin
//  → the user's access token is refused by the API (401).
// Also: axe-core finds no serious or critical violation on the console's pages, nothing is
// fetched from outside the server, no CSP violation; a screenshot of the users table goes to
// SCREENSHOT_DIR/admin-console.png (the README's docs/img/admin-console.png).
// Usage: node admin.mjs PATH_TO_AUTHGATE_BINARY SCREENSHOT_DIR
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [bin, shots] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const port = await new Promise(resolve => {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1', () => { const p = probe.address().port; probe.close(() => resolve(p)); });
});
const base = `http://127.0.0.1:${port}`;
const data = mkdtempSync(path.join(os.tmpdir(), 'authgate-admin-'));
const adminEmail = 'console-admin@example.com';
const adminPassword = 'console admin password';
execFileSync(bin, ['user', 'create', '--data-dir', data, '--email', adminEmail, '--username', 'console-admin',
  '--role', 'admin', '--password-stdin'], { input: adminPassword + '\n', stdio: ['pipe', 'ignore', 'inherit'] });
const server = spawn(bin, ['serve', '--bind', `127.0.0.1:${port}`, '--data-dir', data], {
  env: { PATH: process.env.PATH, AUTHGATE_PUBLIC_URL: base }, stdio: ['ignore', 'pipe', 'pipe'] });
let serverLog = '';
server.stderr.on('data', chunk => { serverLog += chunk; });
await new Promise((resolve, reject) => {
  server.stdout.on('data', chunk => { if (chunk.toString().includes('listening on')) resolve(); });
  server.on('exit', code => reject(new Error(`authgate exited with ${code}`)));
  setTimeout(() => reject(new Error('authgate did not start')), 20000);
});

const api = async (method, route, body, token) => {
  const res = await fetch(base + route, { method, headers: { 'content-type': 'application/json',
    ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body && JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};
const checks = [];
const check = (name, ok, detail) => { checks.push({ name, ok: !!ok, detail }); };

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const external = [];
await page.route('**/favicon.ico', r => r.fulfill({ status: 204, body: '' }));
page.on('request', r => { if (!r.url().startsWith(base)) external.push(r.url()); });
const violations = [];
page.on('console', m => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });

/** axe-core on the current page (injected through the DevTools protocol, so the page's CSP
 * does not apply to it): serious and critical violations only. */
async function axe(name) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Runtime.evaluate', { expression: axeSource });
  const { result } = await cdp.send('Runtime.evaluate', { awaitPromise: true, returnByValue: true,
    expression: `axe.run(document).then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))` });
  await cdp.detach();
  check(`axe: no serious/critical violation on ${name}`, Array.isArray(result.value) && result.value.length === 0, result.value);
}

try {
  // Some users to look through, one of them signed in over the API.
  for (let i = 0; i < 12; i++) {
    await api('POST', '/auth/register', { email: `member${i}@example.com`, password: `member password ${i}` });
  }
  const victimEmail = 'victim@example.com';
  await api('POST', '/auth/register', { email: victimEmail, password: 'victim password 1' });
  const victim = await api('POST', '/auth/login', { username: victimEmail, password: 'victim password 1' });
  check('the user signs in over the API', victim.status === 200, victim.status);

  // Sign in through the pages, coming back to the console.
  await page.goto(`${base}/admin`);
  check('no session: sent to the sign-in', page.url().startsWith(`${base}/signin`), page.url());
  await page.fill('input[name=login]', adminEmail);
  await page.fill('input[name=password]', adminPassword);
  await Promise.all([page.waitForNavigation(), page.click('form button[type=submit]')]);
  check('back at the console after sign-in', new URL(page.url()).pathname === '/admin', page.url() + ' ' + (await page.textContent('main')).replace(/\s+/g, ' ').slice(0, 300));
  check('the users table is shown', await page.locator('#users').count() === 1);
  await axe('the users table');
  if (shots) await page.screenshot({ path: path.join(shots, 'admin-console.png'), fullPage: true });

  // Find the user.
  await page.fill('#q', 'victim');
  await Promise.all([page.waitForNavigation(), page.click('form.filters button[type=submit]')]);
  const rows = await page.locator('#users tbody tr').count();
  check('the search finds exactly the user', rows === 1, rows);
  await Promise.all([page.waitForNavigation(), page.click(`#users a:has-text("${victimEmail}")`)]);
  await axe("a user's page");

  // Deactivate them.
  await Promise.all([page.waitForNavigation(), page.click('#deactivate')]);
  check('the page says the account is deactivated', (await page.textContent('#status'))?.trim() === 'deactivated');
  check('the outcome is announced', await page.locator('[role=status]#outcome').count() === 1);

  // The audit log shows it, by the admin.
  await Promise.all([page.waitForNavigation(), page.click('#user-audit')]);
  const deactivation = page.locator('#audit tbody tr', { hasText: 'user_deactivated' });
  check('the audit log shows the deactivation', await deactivation.count() === 1);
  const actor = (await deactivation.locator('a.actor').textContent())?.trim();
  check('by the admin', actor === adminEmail, actor);
  await axe('the audit log');

  // The user's next API call is refused.
  const me = await api('GET', '/users/me', null, victim.body?.access_token);
  check("the user's next API call is refused", me.status === 401, me.status);
} catch (e) {
  check('flow ran to the end', false, String(e));
} finally {
  await browser.close();
  server.kill('SIGTERM');
}
check('nothing fetched from outside the server', external.length === 0, external);
check('no CSP violation', violations.length === 0, violations);
const ok = checks.every(c => c.ok);
console.log(JSON.stringify({ ok, checks: checks.filter(c => !c.ok).length ? checks : checks.length }));
if (!ok) console.error(serverLog);
process.exit(ok ? 0 : 1);
