// The hosted pages, walked through like a person would, in headless Chromium:
//   sign up → open the verification link from the mail → sign in → enrol TOTP (secret read off
//   the page, codes from the independent `otpauth` library) → sign out → sign in with password
//   + code; a form posted from another origin is refused (CSRF); no page loads anything from
//   outside the server; axe-core finds no serious or critical violation on any page.
// Screenshots of /signin and /account go to SCREENSHOT_DIR (and DOCS_IMG_DIR if set).
// Usage: node journey.mjs PATH_TO_AUTHGATE_BINARY SCREENSHOT_DIR
// Further steps: append them to `steps` below (each gets the shared context).
import { copyFileSync } from 'node:fs';
import http from 'node:http';
import * as OTPAuth from 'otpauth';
import { apiClient, axe, checks, launch, nextTotpStep, startAuthgate, startSmtp, watch } from './lib.mjs';

const [bin, shots] = process.argv.slice(2);
const docsImg = process.env.DOCS_IMG_DIR;

const smtp = await startSmtp();
const app = await startAuthgate(bin, { smtp });
const { base } = app;
const api = apiClient(base);
const { check, finish } = checks();

// An attacker's page on another origin (localhost is another site than 127.0.0.1).
const evil = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/html');
  res.end(`<!doctype html><html lang="en"><title>evil</title><form method="post" action="${base}/account/profile">
    <input name="username" value="csrf_victim"><input name="csrf_token" value="guessed">
    <button id="go">go</button></form></html>`);
});
await new Promise(resolve => evil.listen(0, '127.0.0.1', resolve));
const evilOrigin = `http://localhost:${evil.address().port}`;

const browser = await launch();
const context = await browser.newContext({ viewport: { width: 390, height: 844 } }); // a phone
const page = await context.newPage();
const seen = watch(page, base, [evilOrigin]);

const ctx = {
  email: 'journey@example.com',
  username: 'journey',
  password: 'a journey passphrase 1',
  totp: null,
  lastCodeAt: 0,
};

async function accessible(name) {
  const found = await axe(page);
  check(`axe: no serious/critical violation on ${name}`, found.length === 0, found);
}

function shot(name) {
  return page.screenshot({ path: `${shots}/${name}`, fullPage: true }).then(() => {
    if (docsImg) copyFileSync(`${shots}/${name}`, `${docsImg}/${name}`);
  });
}

async function code() {
  // Each TOTP step's code is accepted once: wait for a fresh step after the last code used.
  if (ctx.lastCodeAt) await nextTotpStep(ctx.lastCodeAt);
  ctx.lastCodeAt = Date.now();
  return ctx.totp.generate();
}

const steps = [
  ['sign up', async () => {
    await page.goto(`${base}/signup`);
    await accessible('/signup');
    await page.getByLabel('E-mail address').fill(ctx.email);
    await page.getByLabel('Username (optional)').fill(ctx.username);
    await page.getByLabel('Password', { exact: true }).fill(ctx.password);
    await page.getByLabel('Confirm password').fill(ctx.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#outcome').waitFor();
    check('sign-up says check your inbox', /Check your inbox/.test(await page.content()), await page.locator('main').innerText());
  }],
  ['verify the address from the mail', async () => {
    const link = await smtp.nextLink('/verify-email');
    await page.goto(link);
    await accessible('/verify-email');
    await page.getByRole('button', { name: 'Confirm e-mail address' }).click();
    await page.locator('#outcome').waitFor();
    check('address confirmed', /is confirmed/.test(await page.locator('#outcome').innerText()));
  }],
  ['sign in', async () => {
    const first = await page.goto(`${base}/account`);
    check('/account without a session lands on /signin', page.url().startsWith(`${base}/signin?return_to=`), page.url());
    const headers = first.headers();
    check('sign-in page CSP is strict', /default-src 'none'/.test(headers['content-security-policy'])
      && /frame-ancestors 'none'/.test(headers['content-security-policy']), headers['content-security-policy']);
    await accessible('/signin');
    await page.setViewportSize({ width: 1000, height: 760 });
    await shot('pages-signin.png');
    await page.getByLabel('E-mail address or username').fill(ctx.email);
    await page.getByLabel('Password').fill(ctx.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/account`);
    check('signed in to /account', (await page.locator('#email').innerText()).includes(ctx.email));
    await accessible('/account');
    await shot('pages-account.png');
    await page.setViewportSize({ width: 390, height: 844 });
  }],
  ['enrol TOTP', async () => {
    await page.getByLabel('Current password').last().fill(ctx.password);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.locator('#totp-secret').waitFor();
    check('the QR code is shown', await page.locator('.qr svg').count() === 1);
    await accessible('the enrolment page');
    const secret = (await page.locator('#totp-secret').innerText()).trim();
    ctx.totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
    await page.getByLabel('The 6-digit code your app now shows').fill(await code());
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.locator('#recovery-codes').waitFor();
    const codes = await page.locator('#recovery-codes li').count();
    check('ten recovery codes shown once', codes === 10, codes);
    await accessible('the recovery codes page');
    await page.goto(`${base}/account`);
    check('two-factor is on', /^On\./.test(await page.locator('#mfa-state').innerText()));
  }],
  ['a form from another origin is refused', async () => {
    await page.goto(evilOrigin);
    const [response] = await Promise.all([page.waitForNavigation(), page.click('#go')]);
    check('cross-origin POST is 403', response.status() === 403, response.status());
    check('its page says csrf_failed', /csrf_failed/.test(await page.content()));
    await page.goto(`${base}/account`);
    check('nothing changed', !(await page.content()).includes('csrf_victim'));
  }],
  ['sign out', async () => {
    await page.getByRole('button', { name: 'Sign out', exact: true }).first().click();
    await page.waitForURL(`${base}/signin`);
    const cookies = await context.cookies(base);
    check('the session cookies are gone', !cookies.some(c => /authgate_page_(access|session)/.test(c.name)), cookies.map(c => c.name));
    await page.goto(`${base}/account`);
    check('signed out: /account asks to sign in', page.url().startsWith(`${base}/signin`), page.url());
  }],
  ['sign in with password and code', async () => {
    await page.getByLabel('E-mail address or username').fill(ctx.username);
    await page.getByLabel('Password').fill(ctx.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByLabel('Code').waitFor();
    await accessible('the second-factor step');
    await page.getByLabel('Code').fill(await code());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${base}/account`);
    check('signed in with the second factor', (await page.locator('#email').innerText()).includes(ctx.email));
  }],
  ['forgot password page', async () => {
    await page.goto(`${base}/forgot-password`);
    await accessible('/forgot-password');
  }],
];

try {
  for (const [name, run] of steps) {
    try {
      await run();
    } catch (e) {
      check(`step "${name}" ran`, false, String(e));
      break;
    }
  }
} finally {
  await browser.close();
  app.stop();
  smtp.close();
  evil.close();
}
check('nothing fetched from outside the server', seen.outside().length === 0, seen.outside());
check('no CSP violation', seen.violations.length === 0, seen.violations);
process.exit(finish(app.log()));
