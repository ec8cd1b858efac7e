// Two app instances share Redis (sessions and tokens) and the emulator; a
// browser moves between them freely, as behind a load balancer with no
// session affinity.
import { expect, test, type APIRequestContext } from "@playwright/test";

import { HomePage, ProfilePage, TodoPage } from "../tests/pages/app";
import { EmulatorConsentPage, EmulatorSignInPage } from "../tests/pages/emulator";

const emulatorUrl = `http://127.0.0.1:${process.env.E2E_MULTI_EMULATOR_PORT ?? "5201"}`;
const instanceA = `http://127.0.0.1:${process.env.E2E_MULTI_APP_A_PORT ?? "3201"}`;
const instanceB = `http://127.0.0.1:${process.env.E2E_MULTI_APP_B_PORT ?? "3202"}`;
/** Access tokens are fresh this long (the config's RefreshMarginSeconds leaves 20 s), plus a margin. */
const UNTIL_DUE_MS = 21_000;

async function tokenRequests(request: APIRequestContext): Promise<number> {
  const response = await request.get(`${emulatorUrl}/_emulator`);
  expect(response.ok()).toBe(true);
  return (await response.json()).tokenRequests;
}

test("a user signed in on one instance is served by the other, renewals are shared, sign-out reaches both", async ({ page, context, request }) => {
  const home = new HomePage(page);
  const profile = new ProfilePage(page);
  const todo = new TodoPage(page);

  await home.open(instanceA);
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Adele Vance");
  await expect(home.greeting).toHaveText("Hello, Adele Vance!");
  // The to-do API's scope is granted on A (consent, then a code redemption on A).
  await todo.open(instanceA);
  await new EmulatorConsentPage(page).accept();
  await expect(todo.empty).toBeVisible();

  // Instance B knows the session and has the tokens: no sign-in, no token request.
  const afterSignIn = await tokenRequests(request);
  await profile.open(instanceB);
  await expect(profile.displayName).toHaveText("Adele Vance");
  await todo.open(instanceB);
  await expect(todo.empty).toBeVisible();
  expect(page.url()).toBe(`${instanceB}/todo`);
  expect(await tokenRequests(request), "B used the tokens A cached").toBe(afterSignIn);

  // A renewal on A is what B serves next; B does not renew again.
  await page.waitForTimeout(UNTIL_DUE_MS);
  const beforeRenewal = await tokenRequests(request);
  await profile.open(instanceA);
  await expect(profile.displayName).toHaveText("Adele Vance");
  expect(await tokenRequests(request), "A renewed the Graph token").toBe(beforeRenewal + 1);
  await profile.open(instanceB);
  await expect(profile.displayName).toHaveText("Adele Vance");
  expect(await tokenRequests(request), "B served A's renewed token").toBe(beforeRenewal + 1);

  // Twenty requests at once over both instances, the token due: one renewal.
  await page.waitForTimeout(UNTIL_DUE_MS);
  const beforeBurst = await tokenRequests(request);
  const calls = Array.from({ length: 20 }, (_, index) =>
    context.request.post(`${index % 2 === 0 ? instanceA : instanceB}/api/my_profile`, {
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      data: "",
    }),
  );
  for (const response of await Promise.all(calls)) {
    expect(response.ok(), await response.text()).toBe(true);
    expect((await response.json()).display_name).toBe("Adele Vance");
  }
  expect(await tokenRequests(request), "RT-01 across instances: one refresh for twenty callers").toBe(beforeBurst + 1);

  // Signing out on B signs out on A.
  await home.open(instanceB);
  await home.header.signOut.click();
  // The provider's signed-out page loads the front-channel logout URL, then
  // returns to the registered (public) origin, which is A's.
  await page.waitForURL(`${instanceA}/`);
  await home.open(instanceA);
  await home.header.expectSignedOut();
});
