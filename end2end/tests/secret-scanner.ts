// SES-03 (first version): records every response the app sends to the
// browser and checks that no token, authorization code or client secret is
// among them, nor in cookies or browser storage.
import { expect, type BrowserContext, type Page, type Response } from "@playwright/test";

// Any JWT (ID or access token): base64url header starting '{"' . payload . signature.
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/;

export class SecretScanner {
  private readonly bodies: { url: string; text: string }[] = [];
  private readonly pending: Promise<void>[] = [];
  private readonly codes = new Set<string>();

  constructor(private readonly appOrigin: string, private readonly clientSecret: string) {}

  attach(page: Page) {
    page.on("response", (response) => this.pending.push(this.record(response)));
    page.on("request", (request) => {
      // Codes arrive in the callback URL; remember them to look for echoes.
      const url = new URL(request.url());
      const code = url.searchParams.get("code");
      if (url.origin === this.appOrigin && code) this.codes.add(code);
    });
  }

  private async record(response: Response) {
    if (new URL(response.url()).origin !== this.appOrigin) return;
    const headers = await response.allHeaders();
    let text = Object.entries(headers).map(([name, value]) => `${name}: ${value}`).join("\n");
    if (response.status() < 300 || response.status() >= 400) {
      try {
        text += "\n" + (await response.text());
      } catch {
        // Bodies of redirects and aborted requests are not available.
      }
    }
    this.bodies.push({ url: response.url(), text });
  }

  async expectNothingLeaked(context: BrowserContext, page: Page) {
    await Promise.all(this.pending);
    expect(this.bodies.length).toBeGreaterThan(5);
    for (const { url, text } of this.bodies) {
      expect(JWT.test(text), `a JWT appeared in the response to ${url}`).toBe(false);
      expect(text.includes(this.clientSecret), `the client secret appeared in ${url}`).toBe(false);
      for (const code of this.codes) {
        expect(text.includes(code), `the authorization code was echoed by ${url}`).toBe(false);
      }
    }
    for (const cookie of await context.cookies()) {
      expect(JWT.test(cookie.value), `cookie ${cookie.name} holds a JWT`).toBe(false);
      expect(cookie.value.length, `cookie ${cookie.name} is suspiciously large`).toBeLessThan(200);
    }
    const storage = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    expect(JWT.test(storage)).toBe(false);
  }
}
