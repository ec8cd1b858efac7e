// The emulator's sign-in page (the stand-in for Microsoft's).
import { expect, type Page } from "@playwright/test";

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
