// Shared helpers of the browser scripts (journey.mjs, admin.mjs, passkeys.mjs): an SMTP
// receiver, authgate on a known port, Debian's Chromium through playwright-core, a recorder of
// every request and CSP violation, axe-core injected from node_modules, a list of checks.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  return new Promise(resolve => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => { const p = probe.address().port; probe.close(() => resolve(p)); });
  });
}

/**
 * An SMTP receiver (RFC 5321, just enough for one plain client). `nextLink(path)` is the first
 * `…path?token=…` link of a message not read before (waiting up to 20 s).
 */
export async function startSmtp() {
  const inbox = [];
  const waiting = [];
  const server = net.createServer(socket => {
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
          inbox.push(data.replace(/\r\n\.\./g, '\r\n.'));
          data = null;
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
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  let read = 0;
  return {
    port: server.address().port,
    inbox,
    async nextLink(linkPath) {
      const deadline = Date.now() + 20000;
      for (;;) {
        while (read < inbox.length) {
          const link = findLink(inbox[read++], linkPath);
          if (link) return link;
        }
        if (Date.now() > deadline) throw new Error(`no mail with a ${linkPath} link arrived`);
        await new Promise(resolve => { waiting.push(resolve); setTimeout(resolve, 500); });
      }
    },
    close() { server.close(); },
  };
}

/** The link in a raw message, its quoted-printable decoding, or its base64 parts. */
export function findLink(raw, linkPath) {
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

/**
 * authgate `serve` on a fresh data dir and a port chosen here (so AUTHGATE_PUBLIC_URL is its
 * own address), mail to `smtp` if given; `env` adds settings. Resolves once it listens.
 */
export async function startAuthgate(bin, { smtp, env = {} } = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const data = mkdtempSync(path.join(os.tmpdir(), 'authgate-browser-'));
  const mail = smtp ? { AUTHGATE_SMTP_URL: `smtp+insecure://127.0.0.1:${smtp.port}`,
    AUTHGATE_MAIL_FROM: 'authgate <no-reply@example.com>' } : {};
  const server = spawn(bin, ['serve', '--bind', `127.0.0.1:${port}`, '--data-dir', data], {
    env: { PATH: process.env.PATH, AUTHGATE_PUBLIC_URL: base, ...mail, ...env },
    stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stderr.on('data', chunk => { log += chunk; });
  await new Promise((resolve, reject) => {
    server.stdout.on('data', chunk => { if (chunk.toString().includes('listening on')) resolve(); });
    server.on('exit', code => reject(new Error(`authgate exited with ${code}: ${log}`)));
    setTimeout(() => reject(new Error('authgate did not start')), 20000);
  });
  return { base, data, log: () => log, stop: () => server.kill('SIGTERM') };
}

/** A JSON call to the API. */
export function apiClient(base) {
  return async (method, route, body, token) => {
    const res = await fetch(base + route, { method, headers: { 'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body && JSON.stringify(body) });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    return { status: res.status, body: json };
  };
}

/** Headless Debian Chromium, nothing downloaded. */
export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
}

/**
 * Record every request URL of `page` and every CSP violation it logs. `outside()` is the
 * requests not under `base` (minus origins in `allowed`, e.g. a test's own attacker page).
 */
export function watch(page, base, allowed = []) {
  const urls = [];
  const violations = [];
  page.on('request', r => urls.push(r.url()));
  page.on('console', m => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  return {
    urls,
    violations,
    outside: () => urls.filter(u => !u.startsWith(base) && !allowed.some(a => u.startsWith(a))
      && !u.startsWith('data:') && u !== 'about:blank'),
  };
}

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core on the current page (injected from node_modules through the DevTools protocol, so the
 * page's CSP stays as it is): the serious and critical violations, as `id: targets`.
 */
export async function axe(page) {
  await page.evaluate(`${AXE}\n;void 0`);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
      .map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
  });
  return result;
}

/** A list of named checks, printed as JSON at the end; `finish()` exits 1 if any failed. */
export function checks() {
  const list = [];
  return {
    list,
    check(name, ok, detail) { list.push({ name, ok: !!ok, detail }); return !!ok; },
    finish(log = '') {
      const ok = list.every(c => c.ok);
      console.log(JSON.stringify({ ok, checks: ok ? list.length : list }, null, ok ? 0 : 2));
      if (!ok && log) console.error(log);
      return ok ? 0 : 1;
    },
  };
}

/** Wait until the 30-second TOTP step after `sinceMs`'s step has begun (a code is single-use). */
export async function nextTotpStep(sinceMs = Date.now()) {
  const next = (Math.floor(sinceMs / 30000) + 1) * 30000;
  const wait = next - Date.now() + 500;
  if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait));
}
