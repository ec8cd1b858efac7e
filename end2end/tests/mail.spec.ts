// Incremental consent: the Mail page needs Mail.Read, which sign-in does not
// ask for. One user grants it at the emulator's consent page and sees their
// messages; another declines and sees what was declined, not a loop.
import { expect, test } from "@playwright/test";

import { openGranting } from "./flows";
import { HomePage, MailPage, MessagePage, SignInErrorPage, waitForHydration } from "./pages/app";
import { EmulatorConsentPage, EmulatorSignInPage } from "./pages/emulator";
import { SecretScanner } from "./secret-scanner";

const clientSecret = process.env.E2E_CLIENT_SECRET ?? "end2end-only-secret";

test("SES-03: a user grants Mail.Read on the consent page and pages through their messages; no secret reaches the browser", async ({ page, context, baseURL }) => {
  const scanner = new SecretScanner(new URL(baseURL!).origin, clientSecret);
  scanner.attach(page);
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Adele Vance");
  await expect(home.greeting).toHaveText("Hello, Adele Vance!");
  await waitForHydration(page);

  // Pages are rendered by the server: following the link to /mail asks the provider for Mail.Read at once.
  const mail = new MailPage(page);
  await home.header.openMail();

  const consent = new EmulatorConsentPage(page);
  await expect(consent.requested).toContainText("Mail.Read");
  await consent.accept();

  await expect(page).toHaveURL(/\/mail$/);
  await expect(mail.subjects.first()).toHaveText("Quarterly sales review");
  await expect(mail.subjects).toHaveCount(10);

  // Consent is remembered: a fresh load shows the messages straight away.
  await mail.open();
  await expect(mail.subjects.first()).toHaveText("Quarterly sales review");

  // "Load more" follows Graph's paging (25 messages in pages of 10), appending in place: no page
  // load (a value kept on the window survives), the scroll position stays, the address follows.
  await waitForHydration(page);
  await page.setViewportSize({ width: 1280, height: 600 });
  await mail.loadMore.scrollIntoViewIfNeeded();
  const scrolled = await page.evaluate(() => {
    (window as unknown as { stillThisPage: boolean }).stillThisPage = true;
    return window.scrollY;
  });
  expect(scrolled).toBeGreaterThan(0);
  await mail.loadMore.click();
  await expect(mail.subjects).toHaveCount(20);
  await expect(mail.subjects.nth(10)).toHaveText("Updated travel policy");
  await expect(mail.messages.nth(10).getByRole("link")).toBeFocused();
  expect(await page.evaluate(() => (window as unknown as { stillThisPage?: boolean }).stillThisPage)).toBe(true);
  expect(await page.evaluate(() => window.scrollY)).toBeGreaterThanOrEqual(scrolled - 1);
  await expect(page).toHaveURL(/\/mail\?count=20$/);
  await expect(mail.end).toHaveCount(0);
  await mail.loadMore.click();
  await expect(mail.subjects).toHaveCount(25);
  await expect(mail.loadMore).toHaveCount(0);
  await expect(mail.end).toHaveText("You have reached the end of your inbox.");

  // Unread messages say so in words (every third one is unread in the emulator's mailbox).
  await expect(mail.messages.first().getByTestId("message-unread")).toHaveText("Unread:");
  await expect(mail.messages.nth(1).getByTestId("message-unread")).toHaveCount(0);
  // Times in the browser's zone, UTC on hover.
  await expect(mail.times.first()).toHaveAttribute("title", "2026-01-15 09:00 UTC");
  await expect(mail.times.first()).toHaveAttribute("datetime", "2026-01-15T09:00:00Z");
  const shown = await mail.times.first().textContent();
  const expected = await page.evaluate(() =>
    new Date("2026-01-15T09:00:00Z").toLocaleString("default", { dateStyle: "medium", timeStyle: "short" }));
  expect(shown).toBe(expected);

  // XSS-01: a message opens with its body as text, none of the HTML Graph sent (no script ran, no image was fetched).
  let trackerRequests = 0;
  page.on("request", (request) => {
    if (request.url().includes("tracker.example")) trackerRequests += 1;
  });
  let dialogs = 0;
  page.on("dialog", async (dialog) => {
    dialogs += 1;
    await dialog.dismiss();
  });
  await mail.subjects.nth(1).click();
  const message = new MessagePage(page);
  await expect(message.title).toHaveText("Lunch on Friday?");
  await expect(page).toHaveTitle("Message · idweb");
  await expect(message.from).toContainText("<");
  await expect(message.body).toContainText("Hi Adele,");
  await expect(message.body).toContainText("Details are in the attached notes & the agenda.");
  await expect(message.body).not.toContainText("alert(");
  await expect(message.body.locator("*")).toHaveCount(0);
  expect(trackerRequests).toBe(0);
  expect(dialogs).toBe(0);
  await message.back.click();
  await expect(page).toHaveURL(/\/mail$/);

  await home.header.signOut.click();
  await expect(page).toHaveURL(/\/$/);
  await scanner.expectNothingLeaked(context, page);
});

test("a user who declines sees why and a way back, not a redirect loop", async ({ page }) => {
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Alex Wilber");
  await expect(home.greeting).toHaveText("Hello, Alex Wilber!");

  // A full page load of /mail redirects to the provider at once.
  const mail = new MailPage(page);
  await mail.open();
  const consent = new EmulatorConsentPage(page);
  await expect(consent.requested).toContainText("Mail.Read");
  await consent.decline();

  const errorPage = new SignInErrorPage(page);
  await expect(page).toHaveURL(/\/auth\/error\?reason=consent_declined/);
  await expect(errorPage.reason).toContainText("You did not grant the permission");
  // AUTHZ-05: "Try again" goes back to the page, which asks again itself; the link offers no scopes of its own.
  await expect(errorPage.retry).toHaveAttribute("href", "/mail");
  await page.waitForTimeout(500);
  await expect(page).toHaveURL(/\/auth\/error\?reason=consent_declined/);
  await expect(home.header.accountName).toHaveText("Alex Wilber");
});

test("without JavaScript, Load more is a link to the longer list and a message opens", async ({ browser, baseURL }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, baseURL });
  const page = await context.newPage();
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Adele Vance");
  await expect(home.greeting).toHaveText("Hello, Adele Vance!");
  const mail = new MailPage(page);
  // Consent may be asked again in this fresh browser: the form posts without JavaScript too.
  await openGranting(page, "/mail");
  await expect(mail.subjects).toHaveCount(10);
  await mail.loadMore.click();
  await expect(page).toHaveURL(/\/mail\?count=20$/);
  await expect(mail.subjects).toHaveCount(20);
  // Without JavaScript the time stays in UTC, which it says.
  await expect(mail.times.first()).toHaveText("2026-01-15 09:00 UTC");
  await mail.subjects.first().click();
  await expect(new MessagePage(page).body).toContainText("Hi Adele,");
  const missing = await page.goto("/mail/AAMkAG-not-a-message");
  expect(missing?.status()).toBe(404);
  await expect(page.locator("main")).toContainText("There is no such message in your mailbox.");
  await context.close();
});
