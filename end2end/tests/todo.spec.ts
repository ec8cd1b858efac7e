// The sample protected web API through DownstreamApis: the to-do page asks
// for the API's scope once, then adds and deletes items, which survive a
// reload; the same works without JavaScript.
import { expect, test, type Page } from "@playwright/test";

import { HomePage, ProfilePage, TodoPage } from "./pages/app";
import { EmulatorConsentPage, EmulatorSignInPage } from "./pages/emulator";
import { EmulatorAdmin } from "./pages/emulator-admin";
import { SecretScanner } from "./secret-scanner";

const emulatorUrl = `http://127.0.0.1:${process.env.E2E_EMULATOR_PORT ?? "5101"}`;
const clientSecret = process.env.E2E_CLIENT_SECRET ?? "end2end-only-secret";

async function signInAndOpenTodo(page: Page, user: string) {
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser(user);
  await expect(home.greeting).toHaveText(`Hello, ${user}!`);
  const todo = new TodoPage(page);
  await todo.open();
  // First visit: the API's own scope needs consent (a full page load redirects straight there).
  const consent = new EmulatorConsentPage(page);
  await expect(consent.requested).toContainText("access_as_user");
  await consent.accept();
  await expect(page).toHaveURL(/\/todo$/);
  return todo;
}

test("SES-03: items are added and deleted through the sample API and survive a reload; no secret reaches the browser", async ({ page, request, context, baseURL }) => {
  const scanner = new SecretScanner(new URL(baseURL!).origin, clientSecret);
  scanner.attach(page);
  const todo = await signInAndOpenTodo(page, "Adele Vance");
  await expect(todo.empty).toBeVisible();
  await todo.waitForHydration();

  await todo.add("Book the offsite venue");
  await expect(todo.titles).toHaveText(["Book the offsite venue"]);
  await expect(todo.titleInput).toHaveValue("", { timeout: 5_000 });
  await todo.add("Send the agenda");
  await expect(todo.titles).toHaveText(["Book the offsite venue", "Send the agenda"]);

  await todo.open();
  await expect(todo.titles).toHaveText(["Book the offsite venue", "Send the agenda"]);

  await todo.deleteFirst();
  await expect(todo.titles).toHaveText(["Send the agenda"]);
  await todo.open();
  await expect(todo.titles).toHaveText(["Send the agenda"]);

  // A refused add is rolled back and explained.
  await todo.waitForHydration();
  await new EmulatorAdmin(request, emulatorUrl).failNextApiCall(500);
  await todo.add("This one fails");
  await expect(todo.error).toBeVisible();
  await expect(todo.titles).toHaveText(["Send the agenda"]);
  await scanner.expectNothingLeaked(context, page);
});

test("an item is added without JavaScript", async ({ browser, baseURL }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, baseURL });
  const page = await context.newPage();
  const todo = await signInAndOpenTodo(page, "Megan Bowen");
  await todo.add("Water the plants");
  // Leptos sends a form post back to the page it came from (with an empty query).
  await expect(page).toHaveURL(/\/todo\??$/);
  await expect(todo.titles).toHaveText(["Water the plants"]);
  await context.close();
});

test("the profile shows the Graph photo through the app's own route", async ({ page }) => {
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Alex Wilber");
  const profile = new ProfilePage(page);
  await profile.open();
  await expect(profile.photo).toHaveAttribute("src", "/profile/photo");
  await expect.poll(() => profile.photo.evaluate((image: HTMLImageElement) => image.naturalWidth)).toBeGreaterThan(0);
});
