// Page objects: one small class per page, so a markup change is fixed here.
import { expect, type Locator, type Page } from "@playwright/test";

export class Header {
  readonly signIn: Locator;
  readonly signOut: Locator;
  readonly accountName: Locator;

  constructor(private readonly page: Page) {
    this.signIn = page.locator("header").getByTestId("sign-in");
    this.signOut = page.getByTestId("sign-out");
    this.accountName = page.getByTestId("account-name");
  }

  async openProfile() {
    await this.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Profile" }).click();
  }

  async openDiagnostics() {
    await this.page.getByRole("banner").getByRole("link", { name: "Diagnostics" }).click();
  }

  async openMail() {
    await this.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Mail" }).click();
  }

  async expectSignedOut() {
    await expect(this.signIn).toBeVisible();
    await expect(this.signOut).toHaveCount(0);
  }
}

export class HomePage {
  readonly header: Header;
  readonly greeting: Locator;

  constructor(private readonly page: Page) {
    this.header = new Header(page);
    this.greeting = page.getByTestId("greeting");
  }

  /** Opens the page, on another instance when `origin` is given. */
  async open(origin = "") {
    await this.page.goto(`${origin}/`);
  }
}

export class ProfilePage {
  readonly photo: Locator;
  readonly displayName: Locator;
  readonly mail: Locator;
  readonly toggleDetails: Locator;
  readonly more: Locator;
  readonly details: Locator;
  readonly jobTitle: Locator;

  constructor(private readonly page: Page) {
    this.photo = page.getByTestId("profile-photo");
    this.displayName = page.getByTestId("profile-display-name");
    this.mail = page.getByTestId("profile-mail");
    this.toggleDetails = page.getByTestId("toggle-details");
    this.more = page.getByTestId("profile-more");
    this.details = page.getByTestId("profile-details");
    this.jobTitle = page.getByTestId("profile-job-title");
  }

  async open(origin = "") {
    await this.page.goto(`${origin}/profile`);
  }
}

export class MailPage {
  readonly subjects: Locator;
  readonly messages: Locator;
  readonly loadMore: Locator;
  readonly end: Locator;
  readonly times: Locator;

  constructor(private readonly page: Page) {
    this.subjects = page.getByTestId("message-subject");
    this.messages = page.getByTestId("message");
    this.loadMore = page.getByTestId("mail-more");
    this.end = page.getByTestId("mail-end");
    this.times = page.getByTestId("message-time");
  }

  async open() {
    await this.page.goto("/mail");
  }
}

export class MessagePage {
  readonly title: Locator;
  readonly from: Locator;
  readonly body: Locator;
  readonly back: Locator;

  constructor(page: Page) {
    this.title = page.getByTestId("message-title");
    this.from = page.getByTestId("message-from");
    this.body = page.getByTestId("message-body");
    this.back = page.getByTestId("back-to-mail");
  }
}

export class DiagnosticsPage {
  readonly claims: Locator;
  readonly cachedScopes: Locator;
  readonly lastSource: Locator;
  readonly hasRefreshToken: Locator;

  constructor(private readonly page: Page) {
    this.claims = page.getByTestId("id-token-claims");
    this.cachedScopes = page.getByTestId("cached-scopes");
    this.lastSource = page.getByTestId("last-source");
    this.hasRefreshToken = page.getByTestId("has-refresh-token");
  }

  async open() {
    await this.page.goto("/diagnostics");
  }
}

export class TodoPage {
  readonly titles: Locator;
  readonly items: Locator;
  readonly empty: Locator;
  readonly error: Locator;
  readonly titleError: Locator;
  readonly titleInput: Locator;
  readonly addButton: Locator;
  readonly notice: Locator;
  readonly undo: Locator;

  constructor(private readonly page: Page) {
    this.titles = page.getByTestId("todo-item-title");
    this.items = page.getByTestId("todo");
    this.empty = page.getByTestId("todos-empty");
    this.error = page.getByTestId("todo-error");
    this.titleError = page.getByTestId("todo-title-error");
    this.titleInput = page.getByTestId("todo-title");
    this.addButton = page.getByTestId("todo-add");
    this.notice = page.getByTestId("todo-notice");
    this.undo = page.getByTestId("todo-undo");
  }

  async open(origin = "") {
    await this.page.goto(`${origin}/todo`);
  }

  async waitForHydration() {
    await waitForHydration(this.page);
  }

  async add(title: string) {
    await this.titleInput.fill(title);
    await this.addButton.click();
  }

  /** The row of the item titled `title`. */
  item(title: string): Locator {
    return this.items.filter({ has: this.page.getByTestId("todo-item-title").getByText(title, { exact: true }) });
  }

  /** The completion checkbox of the item titled `title`. */
  check(title: string): Locator {
    return this.item(title).getByRole("checkbox");
  }

  async toggle(title: string) {
    await this.check(title).click();
  }

  async delete(title: string) {
    await this.item(title).getByTestId("todo-delete").click();
  }

  async deleteFirst() {
    await this.page.getByTestId("todo-delete").first().click();
  }
}

export class SignInErrorPage {
  readonly reason: Locator;
  readonly providerError: Locator;
  readonly aadsts: Locator;
  readonly aadstsText: Locator;
  readonly retry: Locator;

  constructor(page: Page) {
    this.reason = page.getByTestId("error-reason");
    this.providerError = page.getByTestId("provider-error");
    this.aadsts = page.getByTestId("aadsts-code");
    this.aadstsText = page.getByTestId("aadsts-text");
    this.retry = page.getByTestId("retry-sign-in");
  }
}

/** Waits until the WASM bundle has hydrated the page. */
export async function waitForHydration(page: Page) {
  await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
}
