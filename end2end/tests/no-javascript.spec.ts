// The whole app with JavaScript off: every page renders, every form posts
// and lands on a page (HTML, never a server function's JSON), from sign-in
// to sign-out. And what the site serves: only the files a browser needs,
// each with its type; a title per page; an icon.
import { expect, test, type Page, type Response } from "@playwright/test";

import { grantIfAsked } from "./flows";
import { HomePage, MailPage, MessagePage, ProfilePage, TodoPage } from "./pages/app";
import { EmulatorSignInPage } from "./pages/emulator";

/** Every document the browser loads from the app: it must be a page. */
function watchDocuments(page: Page, appOrigin: string) {
  const documents: string[] = [];
  const posts: string[] = [];
  page.on("response", (response: Response) => {
    const request = response.request();
    if (!request.isNavigationRequest() || new URL(response.url()).origin !== appOrigin) return;
    const path = new URL(response.url()).pathname;
    if (request.method() === "POST") posts.push(`${path} ${response.status()}`);
    if (response.status() >= 300 && response.status() < 400) return;
    const type = response.headers()["content-type"] ?? "";
    documents.push(`${request.method()} ${path} ${response.status()} ${type}`);
  });
  return { documents, posts };
}

test("every page and form works without JavaScript and lands on a page, from sign-in to sign-out", async ({ browser, baseURL }) => {
  test.setTimeout(120_000);
  const context = await browser.newContext({ javaScriptEnabled: false, baseURL });
  const page = await context.newPage();
  const { documents, posts } = watchDocuments(page, new URL(baseURL!).origin);

  const home = new HomePage(page);
  await home.open();
  await expect(page).toHaveTitle("idweb");
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Alex Wilber");
  await expect(home.greeting).toHaveText("Hello, Alex Wilber!");

  await home.header.openProfile();
  await expect(page).toHaveTitle("Profile · idweb");
  const profile = new ProfilePage(page);
  await expect(profile.displayName).toHaveText("Alex Wilber");
  // A <details> element opens without JavaScript.
  await profile.toggleDetails.click();
  await expect(profile.details).toBeVisible();

  await home.header.openMail();
  await grantIfAsked(page, "/mail");
  await expect(page).toHaveTitle("Mail · idweb");
  const mail = new MailPage(page);
  await mail.loadMore.click();
  await expect(mail.subjects).toHaveCount(20);
  await mail.subjects.first().click();
  await expect(new MessagePage(page).body).toContainText("Hi Alex,");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "To-do" }).click();
  await grantIfAsked(page, "/todo");
  await expect(page).toHaveTitle("To-do · idweb");
  const todo = new TodoPage(page);
  await todo.add("Check the tyres");
  await expect(todo.item("Check the tyres")).toHaveCount(1);
  await todo.toggle("Check the tyres");
  await expect(todo.check("Check the tyres")).toHaveAttribute("aria-checked", "true");
  await todo.delete("Check the tyres");
  await expect(todo.item("Check the tyres")).toHaveCount(0);
  await todo.undo.click();
  await expect(todo.item("Check the tyres")).toHaveCount(1);
  await todo.delete("Check the tyres");
  await todo.add(" ");
  await expect(todo.titleError).toBeVisible();

  await home.header.openDiagnostics();
  await expect(page).toHaveTitle("Diagnostics · idweb");
  await expect(page.getByTestId("id-token-claims")).toBeVisible();

  await home.header.signOut.click();
  // The provider's signed-out page sends the browser back with a script; without one, its link does.
  await page.getByRole("link", { name: "Return to the app" }).click();
  await page.waitForURL((url) => url.origin === new URL(baseURL!).origin && url.pathname === "/");
  await home.header.expectSignedOut();

  const notPages = documents.filter((line) => !line.endsWith("text/html; charset=utf-8"));
  expect(notPages, documents.join("\n")).toEqual([]);
  // Add, complete, delete, undo, delete, a refused add, sign-out: each a form post of the app's.
  expect(posts.length, posts.join("\n")).toBeGreaterThanOrEqual(7);
  await context.close();
});

test("the site serves what a browser needs, each with its type, and nothing else the build leaves", async ({ page, request }) => {
  await page.goto("/");
  const head = page.locator("head");
  await expect(head.locator('link[rel="icon"]')).toHaveAttribute("href", "/favicon.svg");
  const files = await page.evaluate(() => [
    ...Array.from(document.querySelectorAll("link[href]"), (link) => (link as HTMLLinkElement).href),
    ...Array.from(document.querySelectorAll("script"), (script) => script.textContent ?? "").flatMap((text) => text.match(/\/pkg\/[\w.-]+/g) ?? []),
  ]);
  const expected: Record<string, string> = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
  };
  const served = new Set<string>();
  for (const file of files) {
    const path = new URL(file, page.url()).pathname;
    const extension = path.slice(path.lastIndexOf("."));
    if (!(extension in expected)) continue;
    const response = await request.get(path);
    expect(response.status(), path).toBe(200);
    expect(response.headers()["content-type"], path).toBe(expected[extension]);
    served.add(extension);
  }
  expect([...served].sort()).toEqual([".css", ".js", ".svg", ".wasm"]);
  for (const leftover of ["/pkg/idweb.d.ts", "/pkg/idweb_bg.wasm.d.ts"]) {
    const response = await request.get(leftover);
    expect(response.status(), leftover).toBe(404);
    expect(response.headers()["content-type"]).toBe("text/html; charset=utf-8");
  }
});
