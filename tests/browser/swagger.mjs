// Drive the Swagger UI at /docs like a person, in headless Chromium: Authorize through the OAuth2
// password flow (POST /auth/token), then "Try it out" on GET /users/me. Fails (exit 1) unless the
// call returns the signed-in user, and if the page fetched anything from outside the server.
// Usage: node swagger.mjs http://127.0.0.1:PORT USERNAME PASSWORD SCREENSHOT_DIR
import { chromium } from 'playwright-core';
const [base, username, password, shots] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const page = await browser.newPage();
const external = [];
page.on('request', r => { if (!r.url().startsWith(base)) external.push(r.url()); });
await page.goto(base + '/docs/', { waitUntil: 'networkidle' });
await page.click('button.authorize');
const oauth = page.locator('.auth-container', { hasText: 'OAuth2, password' });
await oauth.locator('#oauth_username').fill(username);
await oauth.locator('#oauth_password').fill(password);
await oauth.locator('button.authorize').click();
await oauth.locator('button:has-text("Logout")').waitFor();
await page.screenshot({ path: `${shots}/docs-authorized.png` });
await page.locator('.modal-ux button.close-modal').first().click();
const op = page.locator('#operations-users-me');
await op.locator('.opblock-summary').click();
await op.locator('button.try-out__btn').click();
await op.locator('button.execute').click();
await op.locator('.live-responses-table .response-col_status').first().waitFor();
const status = await op.locator('.live-responses-table .response-col_status').first().innerText();
const body = await op.locator('.live-responses-table .microlight').first().innerText();
await page.screenshot({ path: `${shots}/docs-users-me.png`, fullPage: false });
await browser.close();
const me = JSON.parse(body);
const ok = me.username === username && external.length === 0;
console.log(JSON.stringify({ ok, status, username: me.username, external }));
process.exit(ok ? 0 : 1);
