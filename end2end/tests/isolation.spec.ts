// ISO-02 against the built binary: three people signed in through the real
// sign-in pages load pages over and over while each of them and clients with
// no cookie at all call the server functions, all at once. Every answer
// belongs to its own caller; an anonymous call is refused (401), or told
// that nobody is signed in, and never carries a user.
import { expect, test, type APIRequestContext, type APIResponse } from "@playwright/test";

import { HomePage } from "./pages/app";
import { EmulatorSignInPage } from "./pages/emulator";

const USERS = ["Adele Vance", "Alex Wilber", "Megan Bowen"];
const ROUNDS = 30;
const ANONYMOUS_CLIENTS = 3;
const PAGES = ["/", "/profile", "/diagnostics", "/auth/error?reason=expired", "/nowhere"];
const FUNCTIONS = ["current_user", "my_profile", "my_diagnostics", "my_todos", "add_todo"];

type Finding = string;

/** What `body` (an answer to `caller`, or to nobody) shows of the other users. */
function othersIn(body: string, caller: string | null): Finding[] {
  return USERS.filter((user) => user !== caller && body.includes(user)).map((user) => `${caller ?? "anonymous"} got ${user}'s data`);
}

async function call(request: APIRequestContext, name: string): Promise<APIResponse> {
  // As any HTTP client can: a form body, no CSRF header, no Origin.
  return request.post(`/api/${name}`, {
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    data: name === "add_todo" ? "title=not+yours&transaction_id=iso-probe" : "",
  });
}

async function asSignedIn(request: APIRequestContext, user: string): Promise<{ answers: number; findings: Finding[] }> {
  const findings: Finding[] = [];
  let answers = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const pages = PAGES.map(async (path) => {
      const response = await request.get(path);
      const body = (await response.text()).replaceAll("<!>", "");
      answers++;
      findings.push(...othersIn(body, user).map((finding) => `${finding} at ${path}`));
      if (!body.includes(`account-name">${user}<`)) findings.push(`${user}'s header at ${path} names someone else or nobody`);
    });
    const calls = ["current_user", "my_profile", "my_diagnostics"].map(async (name) => {
      const response = await call(request, name);
      const body = await response.text();
      answers++;
      findings.push(...othersIn(body, user).map((finding) => `${finding} from ${name}`));
      if (response.status() !== 200 || !body.includes(user)) findings.push(`${user} from ${name}: ${response.status()} ${body.slice(0, 120)}`);
    });
    await Promise.all([...pages, ...calls]);
  }
  return { answers, findings };
}

async function asAnonymous(request: APIRequestContext): Promise<{ answers: number; findings: Finding[] }> {
  const findings: Finding[] = [];
  let answers = 0;
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all(
      FUNCTIONS.map(async (name) => {
        const response = await call(request, name);
        const body = await response.text();
        answers++;
        findings.push(...othersIn(body, null).map((finding) => `${finding} from ${name}`));
        const refused = name === "current_user" ? response.status() === 200 && body.trim() === "null" : response.status() === 401;
        if (!refused) findings.push(`anonymous ${name}: ${response.status()} ${body.slice(0, 120)}`);
      }),
    );
  }
  return { answers, findings };
}

test("ISO-02: signed-in pages and anonymous server-function calls interleaved never answer as another request", async ({ browser, playwright, baseURL }) => {
  test.setTimeout(180_000);
  const people = await Promise.all(
    USERS.map(async (user) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const home = new HomePage(page);
      await home.open();
      await home.header.signIn.click();
      await new EmulatorSignInPage(page).chooseUser(user);
      await expect(home.greeting).toHaveText(`Hello, ${user}!`);
      return { user, context };
    }),
  );
  const anonymous = await Promise.all(Array.from({ length: ANONYMOUS_CLIENTS }, () => playwright.request.newContext({ baseURL })));

  const results = await Promise.all([
    ...people.map(({ user, context }) => asSignedIn(context.request, user)),
    ...anonymous.map((request) => asAnonymous(request)),
  ]);
  const answers = results.reduce((sum, result) => sum + result.answers, 0);
  const findings = results.flatMap((result) => result.findings);
  expect(answers).toBeGreaterThanOrEqual(1_000);
  expect(findings, `${findings.length} of ${answers} answers did not belong to their caller`).toEqual([]);

  await Promise.all([...people.map(({ context }) => context.close()), ...anonymous.map((request) => request.dispose())]);
});
