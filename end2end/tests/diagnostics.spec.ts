// The diagnostics page: ID token claims and the token cache, described,
// with no token value in the page or the server function's answer.
import { expect, test } from "@playwright/test";

import { DiagnosticsPage, HomePage, waitForHydration } from "./pages/app";
import { EmulatorSignInPage } from "./pages/emulator";
import { SecretScanner } from "./secret-scanner";

const clientSecret = process.env.E2E_CLIENT_SECRET ?? "end2end-only-secret";

test("diagnostics show claims, cached scopes and the token source, and no token", async ({ page, context, baseURL }) => {
  const scanner = new SecretScanner(new URL(baseURL!).origin, clientSecret);
  scanner.attach(page);
  const home = new HomePage(page);
  await home.open();
  await home.header.signIn.click();
  await new EmulatorSignInPage(page).chooseUser("Megan Bowen");
  await expect(home.greeting).toHaveText("Hello, Megan Bowen!");
  await waitForHydration(page);

  const diagnostics = new DiagnosticsPage(page);
  await home.header.openDiagnostics();
  await expect(diagnostics.claims).toContainText("MeganB@contoso.example");
  await expect(diagnostics.claims).toContainText("/v2.0");
  // Sign-in's own token (a test before may have left this user's Mail.Read or to-do token in the cache too).
  await expect(diagnostics.cachedScopes).toContainText(["user.read"]);
  await expect(diagnostics.lastSource).toHaveText("AuthorizationCode");
  await expect(diagnostics.hasRefreshToken).toHaveText("cached");

  // The same page rendered on the server for a full load.
  await diagnostics.open();
  await expect(diagnostics.cachedScopes).toContainText(["user.read"]);
  await scanner.expectNothingLeaked(context, page);
});
