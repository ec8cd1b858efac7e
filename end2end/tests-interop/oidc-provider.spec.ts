// Interoperability with an OpenID Certified provider nobody here wrote
// (panva/oidc-provider): sign in through its own pages, see the name from
// its ID token, sign out at it (RP-initiated), and have its back-channel
// logout end idweb's session.
import { expect, Page, test } from "@playwright/test";

import { HomePage, ProfilePage } from "../tests/pages/app";

const opOrigin = `http://127.0.0.1:${process.env.E2E_OP_PORT ?? "5301"}`;

/** The provider's development sign-in and consent pages. */
async function signInAtProvider(page: Page, login: string) {
  await expect(page).toHaveURL(new RegExp(`^${opOrigin}/interaction/`));
  await page.getByPlaceholder("Enter any login").fill(login);
  await page.getByPlaceholder("and password").fill("any password");
  await page.locator("button[type=submit]").click();
  await page.getByRole("button", { name: "Continue" }).click();
}

test("a user signs in at oidc-provider and sees their name; Graph pages say they need Microsoft's platform", async ({ page }) => {
  const home = new HomePage(page);
  await home.open();
  await home.header.expectSignedOut();
  await home.header.signIn.click();
  await signInAtProvider(page, "alice");
  await expect(home.header.accountName).toHaveText("Alice Liddell");
  await expect(home.greeting).toHaveText("Hello, Alice Liddell!");

  const profile = new ProfilePage(page);
  await profile.open();
  await expect(page.getByText("needs the Microsoft identity platform")).toBeVisible();
});

test("OUT-01 at oidc-provider: RP-initiated sign-out ends both sessions and returns to idweb", async ({ page }) => {
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await signInAtProvider(page, "bob");
  await expect(home.header.accountName).toHaveText("Bob Builder");

  await home.header.signOut.click();
  await expect(page).toHaveURL(new RegExp(`^${opOrigin}/session/end`));
  await page.getByRole("button", { name: "Yes, sign me out" }).click();
  await expect(page).toHaveURL(/\/$/);
  await home.header.expectSignedOut();

  // The provider's session is gone too: signing in asks for a login again.
  await home.header.signIn.click();
  await expect(page.getByPlaceholder("Enter any login")).toBeVisible();
});

test("OUT-03 from oidc-provider: its back-channel logout token ends idweb's session", async ({ page }) => {
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await signInAtProvider(page, "alice");
  await expect(home.header.accountName).toHaveText("Alice Liddell");

  // Sign out at the provider directly (another app, or the account page): idweb
  // is not in the loop except through the logout token the provider posts to it.
  await page.goto(`${opOrigin}/session/end`);
  await page.getByRole("button", { name: "Yes, sign me out" }).click();
  await expect(page.getByText(/signed out|sign-out/i).first()).toBeVisible();
  await home.open();
  await home.header.expectSignedOut();
});
