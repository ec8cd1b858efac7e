// Steps many tests take: signing in as a test user, opening a page that may
// ask for consent first, starting from an empty to-do list.
import { expect, type Page } from "@playwright/test";

import { HomePage } from "./pages/app";
import { EmulatorConsentPage, EmulatorSignInPage } from "./pages/emulator";

export const emulatorUrl = `http://127.0.0.1:${process.env.E2E_EMULATOR_PORT ?? "5101"}`;

/** Signs `user` in from the home page, through the emulator's sign-in page. */
export async function signInAs(page: Page, user: string) {
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser(user);
  await expect(home.greeting).toHaveText(`Hello, ${user}!`);
  return home;
}

/**
 * Waits for `path` after a navigation to it, granting the consent the
 * emulator may ask for first (a browser of its own asks again for a scope
 * beyond sign-in's); `beforeConsent` runs on the consent page.
 */
export async function grantIfAsked(page: Page, path: string, beforeConsent?: () => Promise<void>) {
  const pathname = path.split("?")[0];
  await page.waitForURL((url) => url.pathname === pathname || url.origin === emulatorUrl);
  if (new URL(page.url()).origin === emulatorUrl) {
    await beforeConsent?.();
    await new EmulatorConsentPage(page).accept();
    await page.waitForURL((url) => url.pathname === pathname);
  }
}

/** Opens `path`, granting consent if the emulator asks for it. */
export async function openGranting(page: Page, path: string, beforeConsent?: () => Promise<void>) {
  await page.goto(path);
  await grantIfAsked(page, path, beforeConsent);
}

/** Deletes the signed-in user's to-do items (the emulator keeps each user's list for the whole run). */
export async function clearTodoList(page: Page) {
  const listed = await page.request.post("/api/my_todos", { form: {} });
  expect(listed.ok(), await listed.text()).toBe(true);
  for (const item of (await listed.json()) as { id: number }[]) {
    const deleted = await page.request.post("/api/delete_todo", { form: { id: String(item.id) } });
    expect(deleted.ok(), await deleted.text()).toBe(true);
  }
}
