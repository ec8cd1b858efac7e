// Incremental consent: the Mail page needs Mail.Read, which sign-in does not
// ask for. One user grants it at the emulator's consent page and sees their
// messages; another declines and sees what was declined, not a loop.
import { expect, test } from "@playwright/test";

import { HomePage, MailPage, SignInErrorPage, waitForHydration } from "./pages/app";
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

  // "Load more" follows Graph's paging: 25 messages in pages of 10.
  await waitForHydration(page);
  await mail.loadMore.click();
  await expect(mail.subjects).toHaveCount(20);
  await expect(mail.subjects.nth(10)).toHaveText("Updated travel policy");
  await mail.loadMore.click();
  await expect(mail.subjects).toHaveCount(25);
  await expect(mail.loadMore).toHaveCount(0);

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
