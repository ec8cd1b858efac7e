// One screenshot per page, for docs/screenshots (not part of the test suite).
import { expect, test, type Page } from "@playwright/test";

import { HomePage, MailPage, TodoPage } from "../tests/pages/app";
import { EmulatorConsentPage, EmulatorSignInPage } from "../tests/pages/emulator";

const folder = `${__dirname}/../../docs/screenshots`;
const shot = (page: Page, name: string) => page.screenshot({ path: `${folder}/${name}.png` });

test.use({ viewport: { width: 1000, height: 700 } });

test("every page", async ({ page }) => {
  const home = new HomePage(page);
  await home.open();
  await shot(page, "home-signed-out");
  await home.header.signIn.click();
  await shot(page, "emulator-sign-in");
  await new EmulatorSignInPage(page).chooseUser("Adele Vance");
  await expect(home.greeting).toBeVisible();
  await shot(page, "home-signed-in");

  await page.goto("/profile");
  await expect(page.getByTestId("profile-display-name")).toBeVisible();
  await shot(page, "profile");

  await new MailPage(page).open();
  await expect(new EmulatorConsentPage(page).requested).toBeVisible();
  await shot(page, "emulator-consent");
  await new EmulatorConsentPage(page).accept();
  await expect(new MailPage(page).subjects.first()).toBeVisible();
  await shot(page, "mail");

  const todo = new TodoPage(page);
  await todo.open();
  await new EmulatorConsentPage(page).accept();
  await todo.waitForHydration();
  await todo.add("Book the offsite venue");
  await todo.add("Send the agenda");
  await expect(todo.titles).toHaveCount(2);
  await shot(page, "todo");

  await page.goto("/diagnostics");
  await expect(page.getByTestId("id-token-claims")).toBeVisible();
  await shot(page, "diagnostics");

  await page.goto("/auth/error?reason=consent_declined&scopes=Mail.Read&returnUrl=%2Fmail");
  await shot(page, "consent-declined");
});
