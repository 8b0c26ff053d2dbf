// The mailed links, followed like a person would, in headless Chromium: authgate sends its mail
// over real SMTP to a receiver this script runs; the script reads the link out of the message,
// opens it, submits the page, and then checks the outcome over the API.
//  1. verify-email: register → the verification mail → open the link → press the button →
//     GET /users/me says email_verified.
//  2. reset: forgot → the reset mail → open the link → mismatched passwords, then a too-short
//     one (the page says why, in the page) → a good one → the old password fails, the new one
//     signs in, the old session is over.
// Fails (exit 1) on any difference, and if a page fetched anything from outside the server.
// Usage: node recovery.mjs PATH_TO_AUTHGATE_BINARY SCREENSHOT_DIR
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [bin, shots] = process.argv.slice(2);

// --- an SMTP receiver (RFC 5321, just enough for one client that sends plain text) ----------
const inbox = [];
const waiting = [];
const smtp = net.createServer(socket => {
  let buffer = '';
  let data = null;
  const reply = line => socket.write(line + '\r\n');
  reply('220 test-receiver ESMTP');
  socket.on('data', chunk => {
    buffer += chunk.toString('latin1');
    for (;;) {
      if (data !== null) {
        const end = buffer.indexOf('\r\n.\r\n');
        if (end < 0) return;
        data += buffer.slice(0, end);
        buffer = buffer.slice(end + 5);
        const message = data.replace(/\r\n\.\./g, '\r\n.');
        data = null;
        inbox.push(message);
        waiting.splice(0).forEach(resolve => resolve());
        reply('250 OK queued');
        continue;
      }
      const eol = buffer.indexOf('\r\n');
      if (eol < 0) return;
      const line = buffer.slice(0, eol);
      buffer = buffer.slice(eol + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') reply('250-test-receiver\r\n250 8BITMIME');
      else if (verb === 'HELO') reply('250 test-receiver');
      else if (verb === 'DATA') { data = ''; reply('354 end with <CRLF>.<CRLF>'); }
      else if (verb === 'QUIT') { reply('221 bye'); socket.end(); }
      else reply('250 OK');
    }
  });
});
await new Promise(resolve => smtp.listen(0, '127.0.0.1', resolve));
const smtpPort = smtp.address().port;

/** The first `path?token=…` link in a message not read before, waiting up to 20 s. */
let read = 0;
async function nextLink(linkPath) {
  const deadline = Date.now() + 20000;
  for (;;) {
    while (read < inbox.length) {
      const link = findLink(inbox[read++], linkPath);
      if (link) return link;
    }
    if (Date.now() > deadline) throw new Error(`no mail with a ${linkPath} link arrived`);
    await new Promise(resolve => { waiting.push(resolve); setTimeout(resolve, 500); });
  }
}

/** Look for the link in the raw message, its quoted-printable decoding, and its base64 parts. */
function findLink(raw, linkPath) {
  const qp = raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  const b64 = (raw.match(/^[A-Za-z0-9+/=]{40,}$(?:\r\n^[A-Za-z0-9+/=]+$)*/gm) || [])
    .map(block => Buffer.from(block.replace(/\r\n/g, ''), 'base64').toString('utf8'));
  const pattern = new RegExp(`https?://[^\\s"'<>]*${linkPath.replace('/', '\\/')}\\?token=[A-Za-z0-9_-]+`);
  for (const text of [qp, ...b64, raw]) {
    const m = text.match(pattern);
    if (m) return m[0];
  }
  return null;
}

// --- authgate, on a port chosen here so that its public URL is known before it starts --------
const port = await new Promise(resolve => {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1', () => { const p = probe.address().port; probe.close(() => resolve(p)); });
});
const base = `http://127.0.0.1:${port}`;
const data = mkdtempSync(path.join(os.tmpdir(), 'authgate-recovery-'));
const server = spawn(bin, ['serve', '--bind', `127.0.0.1:${port}`, '--data-dir', data], {
  env: { PATH: process.env.PATH, AUTHGATE_SMTP_URL: `smtp+insecure://127.0.0.1:${smtpPort}`,
         AUTHGATE_MAIL_FROM: 'authgate <no-reply@example.com>', AUTHGATE_PUBLIC_URL: base },
  stdio: ['ignore', 'pipe', 'pipe'] });
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
const page = await browser.newPage();
const external = [];
page.on('request', r => { if (!r.url().startsWith(base)) external.push(r.url()); });
const violations = [];
page.on('console', m => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });

try {
  const email = 'reader@example.com';
  const oldPassword = 'the old password 1';
  const newPassword = 'a brand new passphrase 2';

  // 1. Verification.
  const reg = await api('POST', '/auth/register', { email, password: oldPassword });
  check('register', reg.status === 201, reg.status);
  const verifyLink = await nextLink('/verify-email');
  const shown = await page.goto(verifyLink);
  check('verify page is no-store, no-referrer', shown.headers()['cache-control'] === 'no-store'
    && shown.headers()['referrer-policy'] === 'no-referrer', shown.headers());
  await page.screenshot({ path: `${shots}/verify-email.png` });
  await page.getByRole('button', { name: 'Confirm e-mail address' }).click();
  await page.locator('#outcome').waitFor();
  check('verify page says confirmed', /is confirmed/.test(await page.locator('#outcome').innerText()));
  await page.screenshot({ path: `${shots}/verify-email-done.png` });
  const login1 = await api('POST', '/auth/login', { username: email, password: oldPassword });
  const me = await api('GET', '/users/me', null, login1.body.access_token);
  check('email_verified after the page', me.body.email_verified === true, me.body);

  // 2. Reset.
  const forgot = await api('POST', '/auth/password/forgot', { email });
  check('forgot 202', forgot.status === 202, forgot);
  const resetLink = await nextLink('/reset-password');
  await page.goto(resetLink);
  await page.screenshot({ path: `${shots}/reset-password.png` });
  // Opening the page spent nothing: a second look still shows the form.
  await page.goto(resetLink);
  await page.getByLabel('New password').fill(newPassword);
  await page.getByLabel('Confirm password').fill(newPassword + 'x');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.locator('#errors').waitFor();
  check('mismatch shown in the page', /do not match/.test(await page.locator('#errors').innerText()));
  // A common password passes the browser's own checks (length) and fails the server's policy.
  await page.getByLabel('New password').fill('password123');
  await page.getByLabel('Confirm password').fill('password123');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.locator('#errors').waitFor();
  const policy = await page.locator('#errors').innerText();
  check('policy error shown in the page', /common|breach|guess/i.test(policy), policy);
  await page.screenshot({ path: `${shots}/reset-password-error.png` });
  await page.getByLabel('New password').fill(newPassword);
  await page.getByLabel('Confirm password').fill(newPassword);
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.locator('#outcome').waitFor();
  check('reset page says changed', /has been changed/.test(await page.locator('#outcome').innerText()));
  await page.screenshot({ path: `${shots}/reset-password-done.png` });
  // The same link again: spent.
  await page.goto(resetLink);
  await page.getByLabel('New password').fill('yet another passphrase 3');
  await page.getByLabel('Confirm password').fill('yet another passphrase 3');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.locator('#outcome').waitFor();
  check('a used link is refused', /invalid, already used or expired/.test(await page.locator('#outcome').innerText()));

  const oldLogin = await api('POST', '/auth/login', { username: email, password: oldPassword });
  check('old password refused', oldLogin.status === 401, oldLogin.status);
  const newLogin = await api('POST', '/auth/login', { username: email, password: newPassword });
  check('new password signs in', newLogin.status === 200, newLogin.status);
  const oldSession = await api('GET', '/users/me', null, login1.body.access_token);
  check('the session from before the reset is over', oldSession.status === 401, oldSession.status);
} catch (e) {
  check('flow ran to the end', false, String(e));
} finally {
  await browser.close();
  server.kill('SIGTERM');
  smtp.close();
}
check('nothing fetched from outside the server', external.length === 0, external);
check('no CSP violation', violations.length === 0, violations);
const ok = checks.every(c => c.ok);
console.log(JSON.stringify({ ok, checks: checks.filter(c => !c.ok).length ? checks : checks.length }));
if (!ok) console.error(serverLog);
process.exit(ok ? 0 : 1);
