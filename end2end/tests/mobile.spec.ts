// The app on a phone (390x844): nothing scrolls sideways, Diagnostics'
// headings and claim names stay whole while long values break, and every
// control a finger taps is at least 44 px in both directions.
import { expect, test, type Page } from "@playwright/test";

import { openGranting } from "./flows";
import { HomePage } from "./pages/app";
import { EmulatorSignInPage } from "./pages/emulator";

test.use({ viewport: { width: 390, height: 844 } });

/** Controls smaller than 44x44 px (links inside a sentence are exempt, as WCAG exempts them). */
async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>("a[href], button, summary, input:not([type=hidden])"))
      .filter((element) => element.offsetParent !== null && !element.closest("p:not(.message-subject)"))
      .map((element) => ({ element, box: element.getBoundingClientRect() }))
      .filter(({ box }) => box.height < 44 || box.width < 44)
      .map(({ element, box }) => `${element.tagName.toLowerCase()} "${element.textContent?.trim().slice(0, 30)}" ${Math.round(box.width)}x${Math.round(box.height)}`),
  );
}

/** Whether the page is wider than the screen. */
async function scrollsSideways(page: Page) {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
}

test("on a phone nothing scrolls sideways, names and headings stay whole, and every control is 44 px to tap", async ({ page }) => {
  const found: string[] = [];
  const check = async (what: string) => {
    if (await scrollsSideways(page)) found.push(`${what}: wider than the screen`);
    found.push(...(await smallTargets(page)).map((small) => `${what}: ${small}`));
  };
  const home = new HomePage(page);
  await home.open();
  await check("home, signed out");
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Megan Bowen");
  await expect(home.greeting).toHaveText("Hello, Megan Bowen!");
  await check("home");
  for (const path of ["/profile", "/mail", "/todo", "/diagnostics"]) {
    await openGranting(page, path);
    await check(path);
  }

  // Diagnostics: each header and claim name is on one line (no word broken); long values wrap inside their cell.
  const brokenNames = await page.evaluate(() =>
    Array.from(document.querySelectorAll("h1, h2, .table th")).filter((element) => {
      const range = document.createRange();
      range.selectNodeContents(element);
      const lines = new Set(Array.from(range.getClientRects(), (rect) => Math.round(rect.top)));
      const words = (element.textContent ?? "").trim().split(/\s+/).length;
      return lines.size > words;
    }).map((element) => element.textContent),
  );
  expect(brokenNames).toEqual([]);
  expect(found, found.join("\n")).toEqual([]);
});
