// The sample protected web API through DownstreamApis: the to-do page asks
// for the API's scope once, then works as a small app people rely on: an
// add happens once however often it is sent, items are completed, a delete
// can be undone, errors stay with the action that failed and clear when a
// later one works, focus follows the work, and all of it without JavaScript.
import { expect, test, type Browser, type Page } from "@playwright/test";

import { clearTodoList, emulatorUrl, openGranting, signInAs } from "./flows";
import { HomePage, ProfilePage, TodoPage } from "./pages/app";
import { EmulatorSignInPage } from "./pages/emulator";
import { EmulatorAdmin } from "./pages/emulator-admin";
import { SecretScanner } from "./secret-scanner";
const clientSecret = process.env.E2E_CLIENT_SECRET ?? "end2end-only-secret";

async function signInAndOpenTodo(page: Page, user: string) {
  await signInAs(page, user);
  const todo = new TodoPage(page);
  // A user's first visit asks for the API's scope.
  await openGranting(page, "/todo");
  await clearTodoList(page);
  await todo.open();
  return todo;
}

async function withoutJavaScript(browser: Browser, baseURL: string | undefined) {
  const context = await browser.newContext({ javaScriptEnabled: false, baseURL });
  return { context, page: await context.newPage() };
}

test("SES-03: items are added, completed and deleted through the sample API and survive a reload; no secret reaches the browser", async ({ page, request, context, baseURL }) => {
  const scanner = new SecretScanner(new URL(baseURL!).origin, clientSecret);
  scanner.attach(page);
  const todo = await signInAndOpenTodo(page, "Adele Vance");
  await expect(todo.empty).toBeVisible();
  await todo.waitForHydration();

  await todo.add("Book the offsite venue");
  await expect(todo.titles).toHaveText(["Book the offsite venue"]);
  await expect(todo.titleInput).toHaveValue("");
  await expect(todo.titleInput).toBeFocused();
  await todo.add("Send the agenda");
  await expect(todo.titles).toHaveText(["Book the offsite venue", "Send the agenda"]);

  await todo.toggle("Book the offsite venue");
  await expect(todo.check("Book the offsite venue")).toHaveAttribute("aria-checked", "true");
  await expect(todo.item("Book the offsite venue")).toHaveClass(/completed/);
  await expect(todo.item("Book the offsite venue").getByTestId("todo-item-title")).toHaveCSS("text-decoration-line", "line-through");

  await todo.open();
  await expect(todo.titles).toHaveText(["Book the offsite venue", "Send the agenda"]);
  await expect(todo.check("Book the offsite venue")).toHaveAttribute("aria-checked", "true", { timeout: 5_000 });
  await expect(todo.check("Send the agenda")).toHaveAttribute("aria-checked", "false");

  await todo.waitForHydration();
  await todo.delete("Book the offsite venue");
  await expect(todo.titles).toHaveText(["Send the agenda"]);
  // Focus moves to the item that took the deleted one's place.
  await expect(todo.check("Send the agenda")).toBeFocused();
  await todo.open();
  await expect(todo.titles).toHaveText(["Send the agenda"]);

  // A refused add is rolled back and explained at the form.
  await todo.waitForHydration();
  await new EmulatorAdmin(request, emulatorUrl).failNextApiCall(500);
  await todo.add("This one fails");
  await expect(todo.error).toContainText("The to-do list service is unavailable right now");
  await expect(todo.titles).toHaveText(["Send the agenda"]);
  await scanner.expectNothingLeaked(context, page);
});

test("a double click or a second Enter adds one item, and a repeated add request is answered with the same item", async ({ page }) => {
  const todo = await signInAndOpenTodo(page, "Megan Bowen");
  await todo.waitForHydration();
  await todo.titleInput.fill("Order the catering");
  await todo.addButton.dblclick();
  await expect(todo.titles).toHaveText(["Order the catering"]);
  await todo.titleInput.fill("Print the badges");
  await todo.titleInput.press("Enter");
  await todo.titleInput.press("Enter");
  await expect(todo.titles).toHaveText(["Order the catering", "Print the badges"]);
  await page.waitForTimeout(300);
  await todo.open();
  await expect(todo.titles).toHaveText(["Order the catering", "Print the badges"]);

  // The server function itself is idempotent: the same transaction id twice is one item.
  const send = () => page.request.post("/api/add_todo", { form: { title: "Book the bus", transaction_id: "e2e-repeat-1" } });
  const [first, second] = [await send(), await send()];
  expect(first.status()).toBe(200);
  expect(await second.json()).toEqual(await first.json());
  await todo.open();
  await expect(todo.titles).toHaveText(["Order the catering", "Print the badges", "Book the bus"]);
});

test("a deletion can be undone: the item comes back at its place, focused", async ({ page }) => {
  const todo = await signInAndOpenTodo(page, "Alex Wilber");
  await todo.waitForHydration();
  for (const title of ["First", "Second", "Third"]) {
    await todo.add(title);
    await expect(todo.item(title)).toHaveCount(1);
  }
  await todo.delete("Third");
  await expect(todo.titles).toHaveText(["First", "Second"]);
  // The last item went: focus moves to the one before it.
  await expect(todo.check("Second")).toBeFocused();
  await todo.delete("First");
  await expect(todo.notice).toContainText("Deleted “First”.");
  await todo.undo.click();
  await expect(todo.titles).toHaveText(["First", "Second"]);
  await expect(todo.check("First")).toBeFocused();
  await expect(todo.notice).toContainText("Restored “First”.");
  await todo.open();
  await expect(todo.titles).toHaveText(["First", "Second"]);
});

test("an error belongs to the action that failed and clears when a later one succeeds; the API's validation shows at the field", async ({ page, request }) => {
  const admin = new EmulatorAdmin(request, emulatorUrl);
  const todo = await signInAndOpenTodo(page, "Adele Vance");
  await todo.waitForHydration();
  await todo.add("Keep me");
  await expect(todo.titles).toContainText(["Keep me"]);

  // A failed delete: the item stays, with the reason in its own row.
  await admin.failNextApiCall(503);
  await todo.delete("Keep me");
  const rowError = todo.item("Keep me").getByTestId("todo-item-error");
  await expect(rowError).toContainText("Not deleted: The to-do list service is unavailable right now");
  await expect(todo.item("Keep me")).toBeVisible();
  await expect(todo.error).toHaveCount(0);

  // A later failure of another action shows its own text in its own place; the row keeps its own.
  await admin.failNextApiCall(403);
  await todo.add("Not this one");
  await expect(todo.error).toHaveText("Not added: The to-do list service does not let your account do this. If you need it, ask your administrator for access.");
  await expect(rowError).toContainText("Not deleted: The to-do list service is unavailable right now");
  await expect(todo.titleInput).toHaveValue("Not this one");

  // A later success clears the error of its action: the add's, then the row's.
  await todo.add("This one works");
  await expect(todo.item("This one works")).toHaveCount(1);
  await expect(todo.error).toHaveCount(0);
  await todo.toggle("Keep me");
  await expect(todo.check("Keep me")).toHaveAttribute("aria-checked", "true");
  await expect(rowError).toHaveCount(0);
  await expect(todo.item("Not this one")).toHaveCount(0);

  // Validation: a blank (whitespace) title and a too-long one are explained at the field, which is marked invalid.
  await todo.add("    ");
  await expect(todo.titleError).toHaveText("Write what there is to do: a to-do needs a title.");
  await expect(todo.titleInput).toHaveAttribute("aria-invalid", "true");
  await expect(todo.titleInput).toHaveAttribute("aria-describedby", "todo-title-error");
  await todo.titleInput.evaluate((input: HTMLInputElement) => input.removeAttribute("maxlength"));
  await todo.add("x".repeat(201));
  await expect(todo.titleError).toContainText("at most 200 characters; this one has 201");
  await todo.add("Short again");
  await expect(todo.titleError).toHaveCount(0);
  await expect(todo.titleInput).not.toHaveAttribute("aria-invalid", "true");
});

test("without JavaScript the list adds, completes, deletes and undoes, and a bad title lands on the page, not on JSON", async ({ browser, baseURL }) => {
  const { context, page } = await withoutJavaScript(browser, baseURL);
  const todo = await signInAndOpenTodo(page, "Megan Bowen");
  await todo.add("Water the plants");
  await expect(page).toHaveURL(/\/todo\?done=added$/);
  await expect(todo.titles).toHaveText(["Water the plants"]);
  await expect(todo.notice).toHaveText("Added.");
  await todo.add("Feed the cat");
  await expect(todo.titles).toHaveText(["Water the plants", "Feed the cat"]);

  await todo.toggle("Water the plants");
  await expect(todo.check("Water the plants")).toHaveAttribute("aria-checked", "true");
  await expect(todo.notice).toHaveText("Marked as done.");
  await todo.toggle("Water the plants");
  await expect(todo.check("Water the plants")).toHaveAttribute("aria-checked", "false");

  await todo.delete("Water the plants");
  await expect(todo.titles).toHaveText(["Feed the cat"]);
  await expect(todo.notice).toContainText("Deleted.");
  await todo.undo.click();
  await expect(todo.titles).toHaveText(["Water the plants", "Feed the cat"]);
  await expect(todo.notice).toHaveText("Restored.");

  // A resent form (the same transaction id) adds nothing new.
  const transaction = await page.locator("input[name=transaction_id]").inputValue();
  for (let i = 0; i < 2; i++) {
    await page.request.post("/todo", { form: { intent: "add", title: "Only once", transaction_id: transaction } });
  }
  await todo.open();
  await expect(todo.titles).toHaveText(["Water the plants", "Feed the cat", "Only once"]);

  // A service failure without JavaScript: the page again, the reason under the form, the title and
  // the form's transaction id kept, so sending it again cannot add the item twice.
  await new EmulatorAdmin(page.request, emulatorUrl).failNextApiCall(503);
  const before = await page.locator("input[name=transaction_id]").inputValue();
  await todo.add("Call the plumber");
  await expect(todo.error).toHaveText("Not added: The to-do list service is unavailable right now. Try again in a minute.");
  await expect(todo.titleInput).toHaveValue("Call the plumber");
  await expect(todo.titleInput).toBeFocused();
  const kept = await page.locator("input[name=transaction_id]").inputValue();
  expect(kept).toBe(before);
  await todo.addButton.click();
  await expect(todo.notice).toHaveText("Added.");
  await page.request.post("/todo", { form: { intent: "add", title: "Call the plumber", transaction_id: kept } });
  await todo.open();
  await expect(todo.item("Call the plumber")).toHaveCount(1);

  // A whitespace title: the page again, the problem at the field, the typed text kept, a 400.
  const answer = page.waitForResponse((response) => response.url().endsWith("/todo") && response.request().method() === "POST");
  await todo.add("   ");
  expect((await answer).status()).toBe(400);
  await expect(todo.titleError).toHaveText("Write what there is to do: a to-do needs a title.");
  await expect(page.locator("body")).not.toContainText('{"Invalid"');
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
