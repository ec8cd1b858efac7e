// The walking skeleton, end to end: sign in at the emulator, see the Graph
// profile in a hydrated page, sign out.
import { expect, test } from "@playwright/test";

import { HomePage, ProfilePage, SignInErrorPage, waitForHydration } from "./pages/app";
import { EmulatorSignInPage } from "./pages/emulator";
import { EmulatorAdmin } from "./pages/emulator-admin";
import { SecretScanner } from "./secret-scanner";

const clientSecret = process.env.E2E_CLIENT_SECRET ?? "end2end-only-secret";
const emulatorUrl = `http://127.0.0.1:${process.env.E2E_EMULATOR_PORT ?? "5101"}`;

test("SES-03: a user signs in, sees their Graph profile in a hydrated page, and signs out; no secret reaches the browser", async ({ page, context, baseURL }) => {
  const scanner = new SecretScanner(new URL(baseURL!).origin, clientSecret);
  scanner.attach(page);
  const home = new HomePage(page);
  const profile = new ProfilePage(page);

  await home.open();
  await home.header.expectSignedOut();
  await expect(home.greeting).toHaveCount(0);

  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Adele Vance");

  await expect(home.greeting).toHaveText("Hello, Adele Vance!");
  await expect(home.header.accountName).toHaveText("Adele Vance");

  await waitForHydration(page);
  await home.header.openProfile();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(profile.displayName).toHaveText("Adele Vance");
  await expect(profile.mail).toHaveText("AdeleV@contoso.example");

  // A <details> element: the browser opens it (no island needed, and it works without JavaScript).
  await expect(profile.details).toBeHidden();
  await profile.toggleDetails.click();
  await expect(profile.details).toBeVisible();
  await expect(profile.jobTitle).toHaveText("Retail Manager");
  await expect(profile.more).toHaveAttribute("open", "");

  // A full page load renders the same data on the server.
  await profile.open();
  await expect(profile.displayName).toHaveText("Adele Vance");

  await home.header.signOut.click();
  await expect(page).toHaveURL(/\/$/);
  await home.header.expectSignedOut();
  await profile.open();
  await expect(page.getByText("Sign in to see your profile.")).toBeVisible();

  await scanner.expectNothingLeaked(context, page);
});

test("the profile renders without JavaScript once signed in", async ({ browser, baseURL }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, baseURL });
  const page = await context.newPage();
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Alex Wilber");
  await expect(home.greeting).toHaveText("Hello, Alex Wilber!");
  const profile = new ProfilePage(page);
  await profile.open();
  await expect(profile.displayName).toHaveText("Alex Wilber");
  await expect(profile.mail).toHaveText("AlexW@contoso.example");
  await context.close();
});

test("OUT-02 / OUT-03: signing out at the provider, not in idweb, ends the idweb session too", async ({ page }) => {
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Megan Bowen");
  await expect(home.header.accountName).toHaveText("Megan Bowen");

  // As if another app (or the user's account page) signed out at the provider.
  await page.goto(`${emulatorUrl}/7d3a2f61-4a2e-4c49-9b56-2f1c8e4d9a10/oauth2/v2.0/logout`);
  await expect(page.getByText("You signed out of your account")).toBeVisible();
  await home.open();
  await home.header.expectSignedOut();
  const profile = new ProfilePage(page);
  await profile.open();
  await expect(page.getByText("Sign in to see your profile.")).toBeVisible();
});

test("CB-04: a sign-in cancelled at the provider shows the provider's error, escaped, with a retry link", async ({ page }) => {
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).cancel();

  const errorPage = new SignInErrorPage(page);
  await expect(page).toHaveURL(/\/auth\/error\?/);
  await expect(errorPage.providerError).toHaveText("access_denied");
  await expect(errorPage.retry).toHaveAttribute("href", "/auth/sign-in?returnUrl=/");
  await home.header.expectSignedOut();
});

test("CB-04 / AUTHZ-05: the error page shows known text only, never text or links from its own URL", async ({ page }) => {
  let dialogs = 0;
  page.on("dialog", async (dialog) => {
    dialogs += 1;
    await dialog.dismiss();
  });
  const hostile = "<script>alert(1)</script>Call +1 800 555 0100 to unlock your account";
  const query = new URLSearchParams({
    reason: "provider_error",
    error: "access_denied",
    error_description: hostile,
    aadsts: "65004",
    returnUrl: "//evil.example/phish",
    scopes: "Files.ReadWrite.All",
  });
  await page.goto(`/auth/error?${query}`);
  await waitForHydration(page);
  const errorPage = new SignInErrorPage(page);
  await expect(errorPage.providerError).toHaveText("access_denied");
  await expect(errorPage.aadsts).toHaveText("AADSTS65004");
  // Codes become sentences; the codes themselves stay on a line for support.
  await expect(errorPage.aadstsText).toHaveText("You declined to give this app the permission it asked for.");
  await expect(page.locator(".support-detail")).toHaveText("Details for support: access_denied · AADSTS65004");
  await expect(page).toHaveTitle("Sign-in problem · idweb");
  await expect(page.locator("body")).not.toContainText("Call +1 800");
  await expect(page.locator("body")).not.toContainText("Files.ReadWrite.All");
  await expect(errorPage.retry).toHaveAttribute("href", "/auth/sign-in?returnUrl=/");
  expect(dialogs).toBe(0);

  await page.goto(`/auth/error?reason=provider_error&error=${encodeURIComponent(hostile)}`);
  await waitForHydration(page);
  await expect(errorPage.providerError).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText("Call +1 800");
});

test("CB-01: a callback with a forged state is refused and signs nobody in", async ({ page }) => {
  await page.goto("/signin-oidc?code=forged-code&state=forged-state");
  await expect(page).toHaveURL(/\/auth\/error\?reason=invalid_response/);
  await new HomePage(page).header.expectSignedOut();
});

test("IDT-11: a sign-in whose ID token fails validation shows the error page and signs nobody in", async ({ page, request }) => {
  const admin = new EmulatorAdmin(request, emulatorUrl);
  await admin.spoilNextIdToken("bad_signature");
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Megan Bowen");

  await expect(page).toHaveURL(/\/auth\/error\?reason=id_token_rejected/);
  await expect(new SignInErrorPage(page).reason).toContainText("failed validation");
  await home.header.expectSignedOut();

  // The fault was spent: the next attempt signs in.
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Megan Bowen");
  await expect(home.greeting).toHaveText("Hello, Megan Bowen!");
  await admin.clearFaults();
});
