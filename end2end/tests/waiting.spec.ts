// Feedback while waiting: Graph asks idweb to retry in 4 s, so the next
// page takes seconds; the page being left shows progress at once instead
// of looking dead, and the next page still arrives whole, with its status.
import { expect, test } from "@playwright/test";

import { emulatorUrl, signInAs } from "./flows";
import { ProfilePage, waitForHydration } from "./pages/app";
import { EmulatorAdmin } from "./pages/emulator-admin";

test("a slow Graph shows the navigation in progress, then the whole page with its status", async ({ page, request }) => {
  const home = await signInAs(page, "Alex Wilber");
  await waitForHydration(page);
  const progress = page.getByTestId("navigation-progress");
  await expect(progress).not.toHaveClass(/active/);

  await new EmulatorAdmin(request, emulatorUrl).throttleNextApiCall(4);
  // Playwright waits for a navigation to end before it reads the page, so the page being left
  // notes itself (in sessionStorage, which the next page of this origin can read) when the
  // progress shows and what the status says.
  await page.evaluate(() => {
    const clickedAt = Date.now();
    sessionStorage.setItem("clickedAt", String(clickedAt));
    const bar = document.querySelector("[data-testid=navigation-progress]")!;
    const status = document.querySelector("[data-testid=navigation-status]")!;
    new MutationObserver(() => {
      if (bar.classList.contains("active") && !sessionStorage.getItem("progressAfterMs")) {
        sessionStorage.setItem("progressAfterMs", String(Date.now() - clickedAt));
      }
      // What it said while the wait was on (the page clears it as it goes).
      if (status.textContent && !sessionStorage.getItem("statusText")) {
        sessionStorage.setItem("statusText", status.textContent);
      }
    }).observe(document.body, { attributes: true, childList: true, subtree: true, characterData: true });
  });
  const answer = page.waitForResponse((response) => new URL(response.url()).pathname === "/profile");
  await home.header.openProfile();
  expect((await answer).status()).toBe(200);
  await expect(new ProfilePage(page).displayName).toHaveText("Alex Wilber");
  const noted = await page.evaluate(() => ({
    loadedAfterMs: Date.now() - Number(sessionStorage.getItem("clickedAt")),
    progressAfterMs: Number(sessionStorage.getItem("progressAfterMs") ?? "NaN"),
    statusText: sessionStorage.getItem("statusText"),
  }));
  // Graph's retry took seconds; the progress showed in a small part of that wait (ratios, not timings).
  expect(noted.loadedAfterMs).toBeGreaterThanOrEqual(4_000);
  expect(noted.progressAfterMs).toBeLessThan(noted.loadedAfterMs / 4);
  expect(noted.statusText).toBe("Loading the page…");
  await expect(page.getByTestId("navigation-progress")).not.toHaveClass(/active/);

  // A link an island handles itself (Load more, the to-do buttons) shows no page progress.
  await page.goBack();
  await waitForHydration(page);
  await expect(page.getByTestId("navigation-progress")).not.toHaveClass(/active/);
});
