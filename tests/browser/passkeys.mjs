// The hosted pages' passkeys (issue 13) in headless Chromium with its virtual authenticator
// (DevTools protocol WebAuthn domain: CTAP2, internal transport, resident keys, user
// verification that succeeds):
//   sign in with the password → add a passkey on /account → rename it → sign out → "Sign in
//   with a passkey" → back on /account, signed in → remove it.
// Also: axe-core clean on the pages with a passkey block, nothing fetched from outside, no CSP
// violation (the script runs by nonce). A screenshot of the account's passkeys block goes to
// SCREENSHOT_DIR/pages-passkeys.png (and DOCS_IMG_DIR if set).
// The browser uses http://localhost:PORT: authgate's relying party for a loopback public URL is
// `localhost` (browsers refuse IP addresses as RP ids), and localhost is a secure context.
// Usage: node passkeys.mjs PATH_TO_AUTHGATE_BINARY SCREENSHOT_DIR
import { copyFileSync } from 'node:fs';
import { apiClient, axe, checks, launch, startAuthgate, watch } from './lib.mjs';

const [bin, shots] = process.argv.slice(2);
const docsImg = process.env.DOCS_IMG_DIR;

const app = await startAuthgate(bin);
const base = app.base.replace('127.0.0.1', 'localhost');
const api = apiClient(app.base);
const { check, finish } = checks();

const user = { email: 'passkey@example.com', username: 'passkey_user', password: 'a passkey passphrase 7' };
const registered = await api('POST', '/auth/register', user);
check('the user registers over the API', registered.status === 201, registered);

const browser = await launch();
const context = await browser.newContext({ viewport: { width: 390, height: 844 } }); // a phone
const page = await context.newPage();
const seen = watch(page, base);

// Chromium's virtual authenticator, for this page (it survives navigations).
const cdp = await context.newCDPSession(page);
await cdp.send('WebAuthn.enable');
const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
  options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
    isUserVerified: true, automaticPresenceSimulation: true },
});

async function accessible(name) {
  const found = await axe(page);
  check(`axe: no serious/critical violation on ${name}`, found.length === 0, found);
}

async function credentials() {
  return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
}

const steps = [
  ['sign in with the password', async () => {
    await page.goto(`${base}/signin`);
    await page.locator('#passkey-signin').waitFor();
    check('the passkey button is shown where WebAuthn exists', await page.locator('#passkey-signin').isVisible());
    await accessible('/signin with the passkey button');
    await page.getByLabel('E-mail address or username').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/account`);
    check('signed in to /account', (await page.locator('#email').innerText()).includes(user.email));
  }],
  ['add a passkey', async () => {
    check('no passkey yet', await page.locator('#passkey-none').count() === 1);
    await page.getByLabel('Name of the new passkey').fill('My phone');
    await page.getByLabel('Your password, to add a passkey').fill(user.password);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL(`${base}/account?done=passkey_added#passkeys`);
    check('the page says it is added', /passkey is added/.test(await page.locator('#notice').innerText()));
    const names = await page.locator('#passkey-list .passkey-name').allInnerTexts();
    check('the passkey is listed by its name', names.length === 1 && names[0] === 'My phone', names);
    const held = await credentials();
    check('the authenticator holds one discoverable credential', held.length === 1 && held[0].isResidentCredential, held.length);
    await accessible('/account with a passkey');
  }],
  ['rename it', async () => {
    await page.getByLabel('New name for “My phone”').fill('Pocket phone');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.waitForURL(`${base}/account?done=passkey_renamed#passkeys`);
    const names = await page.locator('#passkey-list .passkey-name').allInnerTexts();
    check('renamed', names.length === 1 && names[0] === 'Pocket phone', names);
    await page.locator('#passkeys').scrollIntoViewIfNeeded();
    await page.setViewportSize({ width: 1000, height: 900 });
    await page.locator('#passkeys').screenshot({ path: `${shots}/pages-passkeys.png` });
    if (docsImg) copyFileSync(`${shots}/pages-passkeys.png`, `${docsImg}/pages-passkeys.png`);
    await page.setViewportSize({ width: 390, height: 844 });
  }],
  ['sign out', async () => {
    await page.getByRole('button', { name: 'Sign out', exact: true }).first().click();
    await page.waitForURL(`${base}/signin`);
    const cookies = await context.cookies(base);
    check('the session cookies are gone', !cookies.some(c => /authgate_page_(access|session)/.test(c.name)), cookies.map(c => c.name));
  }],
  ['sign in with the passkey', async () => {
    await page.goto(`${base}/signin?return_to=%2Faccount`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(`${base}/account`);
    check('signed in with the passkey, on /account', (await page.locator('#email').innerText()).includes(user.email));
    const item = await page.locator('#passkey-list li').first().innerText();
    check('the passkey shows as used', /last used/.test(item), item);
    check('a passkey session is not asked for the password to add another',
      await page.locator('#passkey-password').count() === 0);
  }],
  ['remove it', async () => {
    await page.getByRole('button', { name: 'Remove passkey Pocket phone' }).click();
    await page.waitForURL(`${base}/account?done=passkey_removed#passkeys`);
    check('no passkey left', await page.locator('#passkey-none').count() === 1);
    check('still signed in', (await page.locator('#email').innerText()).includes(user.email));
  }],
  ['a removed passkey no longer signs in', async () => {
    await page.getByRole('button', { name: 'Sign out', exact: true }).first().click();
    await page.waitForURL(`${base}/signin`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const error = page.locator('#passkey-error');
    await error.waitFor();
    check('the sign-in page says why', (await error.innerText()).length > 0, await error.innerText());
    check('still on /signin', new URL(page.url()).pathname === '/signin', page.url());
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
}
check('nothing fetched from outside the server', seen.outside().length === 0, seen.outside());
check('no CSP violation', seen.violations.length === 0, seen.violations);
process.exit(finish(app.log()));
