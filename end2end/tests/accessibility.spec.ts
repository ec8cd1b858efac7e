// axe-core on every page and state the app shows, at desktop and phone
// sizes, signed out and signed in, with the to-do list's notices and
// errors: no violation of any rule axe runs by default (WCAG 2.x A/AA and
// its best practices).
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";

import { clearTodoList, emulatorUrl, openGranting, signInAs } from "./flows";
import { MailPage, TodoPage, waitForHydration } from "./pages/app";
import { EmulatorAdmin } from "./pages/emulator-admin";

const viewports = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
];

/** The violations axe finds on the page as it is now, one line each. */
async function violations(page: Page, state: string): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.map(
    (violation) => `${state}: ${violation.id} (${violation.impact}) on ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`,
  );
}

for (const viewport of viewports) {
  test(`axe finds nothing on any page or state (${viewport.name}, ${viewport.width}x${viewport.height})`, async ({ page, request }) => {
    test.setTimeout(120_000);
    await page.setViewportSize({ width: viewport.width, height: viewport.height });
    const found: string[] = [];
    const scan = async (state: string) => found.push(...(await violations(page, `${viewport.name} ${state}`)));

    for (const path of ["/", "/profile", "/mail", "/todo", "/diagnostics", "/nowhere", "/auth/error?reason=provider_error&error=access_denied&aadsts=50126"]) {
      await page.goto(path);
      await scan(`signed out ${path}`);
    }

    await signInAs(page, "Megan Bowen");
    await waitForHydration(page);
    await scan("signed in /");

    await page.goto("/profile");
    await scan("profile");
    await page.getByTestId("toggle-details").click();
    await scan("profile with details open");

    await openGranting(page, "/mail");
    await waitForHydration(page);
    const mail = new MailPage(page);
    await scan("mail");
    await mail.loadMore.click();
    await expect(mail.subjects).toHaveCount(20);
    await scan("mail after load more");
    await mail.subjects.first().click();
    await expect(page.getByTestId("message-body")).toBeVisible();
    await scan("a message");
    await page.goto("/mail/not-a-message");
    await scan("a message that is not there");

    await openGranting(page, "/todo");
    const todo = new TodoPage(page);
    await todo.waitForHydration();
    await clearTodoList(page);
    await todo.open();
    await todo.waitForHydration();
    await scan("to-do, empty");
    await todo.add("Plan the launch");
    await todo.add("Write the release notes");
    await expect(todo.titles).toHaveCount(2);
    await todo.toggle("Plan the launch");
    await expect(todo.check("Plan the launch")).toHaveAttribute("aria-checked", "true");
    await scan("to-do with a completed item");
    await todo.add("   ");
    await expect(todo.titleError).toBeVisible();
    await scan("to-do with a field error");
    await new EmulatorAdmin(request, emulatorUrl).failNextApiCall(503);
    await todo.delete("Write the release notes");
    await expect(todo.item("Write the release notes").getByTestId("todo-item-error")).toBeVisible();
    await scan("to-do with an item's error");
    await todo.delete("Write the release notes");
    await expect(todo.undo).toBeVisible();
    await scan("to-do with an undo offer");

    await page.goto("/diagnostics");
    await scan("diagnostics");

    expect(found, found.join("\n")).toEqual([]);
  });
}

test("the scan itself finds a violation where there is one", async ({ page }) => {
  await page.setContent('<html><body><main><img src="data:,"><button></button></main></body></html>');
  const found = await violations(page, "fixture");
  expect(found.some((line) => line.includes("image-alt"))).toBe(true);
  expect(found.some((line) => line.includes("button-name"))).toBe(true);
});
