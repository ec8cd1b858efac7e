// The emulator's admin API (loopback only): arms faults for the next requests.
import { expect, type APIRequestContext } from "@playwright/test";

export class EmulatorAdmin {
  constructor(private readonly request: APIRequestContext, private readonly emulatorUrl: string) {}

  /** Spoils the next ID token the emulator issues (see docs/EMULATOR.md for the mutations). */
  async spoilNextIdToken(mutation: string) {
    await this.post("faults/id-token", { mutation });
  }

  /** The next `count` Graph or sample API calls answer `status` (after their token passed). */
  async failNextApiCall(status: number, count = 1) {
    await this.post("faults/api", { kind: "status", status, count });
  }

  /** The next Graph or sample API call answers 429 with `Retry-After: seconds`. */
  async throttleNextApiCall(seconds: number) {
    await this.post("faults/api", { kind: "throttle", retryAfterSecs: seconds });
  }

  async clearFaults() {
    const response = await this.request.delete(`${this.emulatorUrl}/_emulator/faults`);
    expect(response.ok()).toBe(true);
  }

  private async post(path: string, data: unknown) {
    const response = await this.request.post(`${this.emulatorUrl}/_emulator/${path}`, { data });
    expect(response.ok(), await response.text()).toBe(true);
  }
}
