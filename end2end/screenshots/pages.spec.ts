// The screenshots in docs/screenshots (scripts/screenshots.sh, not part of
// the test suite): every page, signed out and in, each error state, at a
// desktop size and the main pages at a phone's.
import { expect, test } from "@playwright/test";

import { clearTodoList, emulatorUrl, openGranting } from "../tests/flows";
import { HomePage, MailPage, TodoPage } from "../tests/pages/app";
import { EmulatorSignInPage } from "../tests/pages/emulator";
import { EmulatorAdmin } from "../tests/pages/emulator-admin";

const folder = `${__dirname}/../../docs/screenshots`;
const bareApp = `http://127.0.0.1:${process.env.E2E_BARE_APP_PORT ?? "3102"}`;

for (const size of [
  { name: "desktop", width: 1280, height: 800, every: true },
  { name: "phone", width: 390, height: 844, every: false },
]) {
  test(`every page at ${size.name} size`, async ({ page, request }) => {
    test.setTimeout(120_000);
    await page.setViewportSize({ width: size.width, height: size.height });
    const shot = (name: string, all = false) => page.screenshot({ path: `${folder}/${size.name}-${name}.png`, fullPage: all });
    const admin = new EmulatorAdmin(request, emulatorUrl);

    const home = new HomePage(page);
    await home.open();
    await shot("home-signed-out");
    if (size.every) {
      await page.goto("/profile");
      await shot("profile-signed-out");
      await page.goto("/nowhere");
      await shot("not-found");
      await page.goto("/auth/error?reason=provider_error&error=access_denied&aadsts=50126");
      await shot("sign-in-error");
      await page.goto(`${bareApp}/todo`);
      await shot("todo-not-configured");
    }
    await home.open();
    await home.header.signIn.click();
    if (size.every) await shot("emulator-sign-in");
    await new EmulatorSignInPage(page).chooseUser("Adele Vance");
    await expect(home.greeting).toBeVisible();
    await shot("home-signed-in");

    await page.goto("/profile");
    await page.getByTestId("toggle-details").click();
    await shot("profile");
    if (size.every) {
      // Enough failures that the engine's retries fail too.
      await admin.failNextApiCall(503, 5);
      await page.goto("/profile");
      await shot("profile-graph-unavailable");
      await admin.clearFaults();
    }

    await openGranting(page, "/mail", async () => {
      if (size.every) await shot("emulator-consent");
    });
    const mail = new MailPage(page);
    await expect(mail.subjects.first()).toBeVisible();
    await page.locator("[data-hydrated=true]").waitFor({ state: "attached" });
    await shot("mail");
    if (size.every) {
      await mail.loadMore.click();
      await mail.loadMore.click();
      await expect(mail.end).toBeVisible();
      await shot("mail-end", true);
    }
    await mail.subjects.nth(1).click();
    await expect(page.getByTestId("message-body")).toBeVisible();
    await shot("message");

    await openGranting(page, "/todo");
    const todo = new TodoPage(page);
    await todo.waitForHydration();
    await clearTodoList(page);
    await todo.open();
    await todo.waitForHydration();
    for (const title of ["Book the offsite venue", "Send the agenda", "Order the catering"]) {
      await todo.add(title);
      await expect(todo.item(title)).toHaveCount(1);
    }
    await todo.toggle("Book the offsite venue");
    await expect(todo.check("Book the offsite venue")).toHaveAttribute("aria-checked", "true");
    await todo.delete("Order the catering");
    await expect(todo.undo).toBeVisible();
    await shot("todo");
    if (size.every) {
      await todo.add("   ");
      await expect(todo.titleError).toBeVisible();
      await admin.failNextApiCall(503);
      await todo.delete("Send the agenda");
      await expect(todo.item("Send the agenda").getByTestId("todo-item-error")).toBeVisible();
      await shot("todo-errors");
    }

    await page.goto("/diagnostics");
    await expect(page.getByTestId("id-token-claims")).toBeVisible();
    await shot("diagnostics", true);

    if (size.every) {
      await page.goto("/auth/error?reason=consent_declined&returnUrl=%2Fmail");
      await shot("consent-declined");
    }
  });
}
