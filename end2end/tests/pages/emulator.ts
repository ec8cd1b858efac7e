// The emulator's sign-in page (the stand-in for Microsoft's).
import { expect, type Locator, type Page } from "@playwright/test";

export class EmulatorSignInPage {
  constructor(private readonly page: Page) {}

  async expectShown() {
    await expect(this.page).toHaveURL(/\/oauth2\/v2\.0\/authorize/);
  }

  async chooseUser(displayName: string) {
    await this.expectShown();
    await this.page.getByRole("button", { name: new RegExp(displayName) }).click();
  }

  async cancel() {
    await this.expectShown();
    await this.page.getByRole("button", { name: "Cancel" }).click();
  }
}

// The emulator's consent page.
export class EmulatorConsentPage {
  readonly requested: Locator;

  constructor(private readonly page: Page) {
    this.requested = page.locator("ul.scopes");
  }

  async accept() {
    await this.page.getByRole("button", { name: "Accept" }).click();
  }

  async decline() {
    await this.page.getByRole("button", { name: "Cancel" }).click();
  }
}
