// An instance whose settings name no DownstreamApis: the To-do page says
// its service is not configured (and which setting adds it), and the
// navigation does not offer it.
import { expect, test } from "@playwright/test";

const bareApp = `http://127.0.0.1:${process.env.E2E_BARE_APP_PORT ?? "3102"}`;

test("a page whose API is not configured says so and the navigation does not offer it", async ({ page }) => {
  await page.goto(`${bareApp}/`);
  const navigation = page.getByRole("navigation", { name: "Main" });
  await expect(navigation.getByRole("link", { name: "Profile" })).toBeVisible();
  await expect(navigation.getByRole("link", { name: "To-do" })).toHaveCount(0);
  const answer = await page.goto(`${bareApp}/todo`);
  expect(answer?.status()).toBe(404);
  await expect(page.getByTestId("page-not-configured")).toContainText("no to-do list service configured");
  await expect(page.getByTestId("page-not-configured")).toContainText("DownstreamApis:TodoList");
  await expect(page.getByTestId("sign-in").filter({ hasText: "Sign in" })).toHaveCount(1);
});
