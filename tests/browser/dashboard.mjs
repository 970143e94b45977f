// End-to-end test of the dashboard in headless Chromium (Debian's), driven by playwright-core.
// Run by tests/dashboard.rs against a real daemon; every wait has a deadline, and any failure
// throws, so the process exits non-zero with the reason on stderr.
//
// Environment: AEGIS_URL, AEGIS_TOKEN (the daemon's), FAKE_AGENT (tests/support/bin/
// fake_agent.py), WORK_DIR (a session work dir), SHOT_DIR (where the screenshots go),
// CHROMIUM (optional; default /usr/bin/chromium).
import { chromium } from "playwright-core";
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL = env("AEGIS_URL");
const TOKEN = env("AEGIS_TOKEN");
const FAKE = env("FAKE_AGENT");
const WORK = env("WORK_DIR");
const SHOTS = env("SHOT_DIR");
// Longest wait for one step: a fake agent answers in about a second; this is slack for a
// loaded 2-core CI machine.
const STEP = 20_000;

const step = (what) => console.log(`-- ${what}`);

// Create a session through the REST API (the fleet around the one driven through the page).
async function createByApi(name, agent) {
  const res = await fetch(`${URL}/v1/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({
      name, agentType: agent, workDir: WORK, command: ["python3", FAKE, "--agent", agent],
    }),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`create ${name}: ${res.status} ${await res.text()}`);
}

async function shot(page, name) {
  const path = join(SHOTS, name);
  await page.screenshot({ path });
  if (statSync(path).size < 1000) throw new Error(`screenshot ${path} is empty`);
  console.log(`   screenshot ${path}`);
}

const row = (page, name) => page.locator(`#sessions li[data-name="${name}"]`);

async function waitStatus(page, name, status) {
  await page.waitForSelector(`#sessions li[data-name="${name}"][data-status="${status}"]`, { timeout: STEP });
}

// The text of the xterm.js screen (its DOM renderer keeps one element per row).
const screenText = (page) => page.locator("#terminal .xterm-rows").innerText();

async function waitScreen(page, needle) {
  await page.waitForFunction(
    (n) => (document.querySelector("#terminal .xterm-rows")?.innerText || "").includes(n),
    needle,
    { timeout: STEP },
  ).catch(async (e) => {
    throw new Error(`screen never showed ${JSON.stringify(needle)}; it shows:\n${await screenText(page)}\n${e.message}`);
  });
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // Root in a container has no user namespaces for Chromium's sandbox.
    args: ["--no-sandbox"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    const problems = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

    // Pages of two sessions instead of the dashboard's thousand, so the three sessions below
    // span two pages and the list shows all of them only if the page follows totalPages.
    await page.route((u) => u.pathname === "/v1/sessions" && u.searchParams.has("limit"), (route) => {
      const u = new globalThis.URL(route.request().url()); // `URL` here is the daemon's address
      u.searchParams.set("limit", "2");
      route.continue({ url: u.toString() });
    });

    step("the page asks for the token; a wrong one is refused");
    await page.goto(URL + "/");
    await page.waitForSelector("#login:not([hidden])", { timeout: STEP });
    await page.fill("#token", "not-the-token");
    await page.click("#login-form button");
    await page.waitForFunction(() => document.querySelector("#login-error").textContent.includes("refused"), null, { timeout: STEP });

    step("the right token signs in and lands in an HttpOnly cookie");
    await page.fill("#token", TOKEN);
    await page.click("#login-form button");
    await page.waitForSelector("#app:not([hidden])", { timeout: STEP });
    const cookies = await page.context().cookies();
    const c = cookies.find((x) => x.name === "aegis_token");
    if (!c || !c.httpOnly || c.sameSite !== "Strict") throw new Error(`bad cookie: ${JSON.stringify(cookies)}`);
    if (await page.evaluate(() => document.cookie.includes("aegis_token"))) throw new Error("page scripts can read the token");
    await page.waitForSelector('#conn[data-state="live"]', { timeout: STEP });

    step("a reload keeps the sign-in");
    await page.reload();
    await page.waitForSelector("#app:not([hidden])", { timeout: STEP });

    step("sessions created elsewhere appear live");
    await createByApi("api-refactor", "codex");
    await createByApi("docs-writer", "gemini");
    await waitStatus(page, "api-refactor", "idle");
    await waitStatus(page, "docs-writer", "idle");

    step("create a fake Claude through the form");
    await page.click("#create summary");
    await page.fill('#create-form [name="name"]', "fake-claude");
    await page.selectOption('#create-form [name="agentType"]', "claude");
    await page.fill('#create-form [name="command"]', `python3 ${FAKE} --agent claude`);
    await page.fill('#create-form [name="workDir"]', WORK);
    await page.click("#create-form button");
    await waitStatus(page, "fake-claude", "idle");
    await page.click("#create summary"); // fold the form again
    await waitScreen(page, "for shortcuts");
    step("all three sessions are listed across two pages of two, with the total");
    await page.waitForFunction(() => document.querySelector("#session-count").textContent === "3"
      && document.querySelectorAll("#sessions li").length === 3, null, { timeout: STEP });
    await shot(page, "dashboard-fleet.png");

    step("record every badge state of fake-claude from now on");
    await page.evaluate(() => {
      window.__statuses = [];
      const seen = () => {
        const s = document.querySelector('#sessions li[data-name="fake-claude"]')?.dataset.status;
        if (s && window.__statuses.at(-1) !== s) window.__statuses.push(s);
      };
      new MutationObserver(seen).observe(document.getElementById("sessions"), { subtree: true, childList: true, attributes: true });
    });

    step("type a prompt into the terminal; the agent echoes it, works, then asks");
    await page.click("#terminal");
    await page.keyboard.type("!ask bash npm test", { delay: 25 });
    await waitScreen(page, "!ask bash npm test");
    await page.keyboard.press("Enter");
    await waitStatus(page, "fake-claude", "permission_prompt");
    const perm = page.locator("#permissions li").filter({ hasText: "npm test" });
    await perm.waitFor({ timeout: STEP });
    // The widest badge must not squeeze the name into an ellipsis.
    const clipped = await page.evaluate(() => {
      const n = document.querySelector('#sessions li[data-name="fake-claude"] .name');
      return n.scrollWidth > n.clientWidth ? `${n.scrollWidth} > ${n.clientWidth}` : "";
    });
    if (clipped) throw new Error(`the session name is cut short beside its badge: ${clipped}`);
    await shot(page, "dashboard-permission.png");

    step("approve in the page; the agent runs it and goes idle");
    await perm.locator("button.approve").click();
    await waitScreen(page, "APPROVED option 1: npm test");
    await waitStatus(page, "fake-claude", "idle");
    await page.waitForSelector("#perm-empty:not([hidden])", { timeout: STEP });
    const statuses = await page.evaluate(() => window.__statuses);
    const order = ["working", "permission_prompt", "idle"];
    let at = 0;
    for (const s of statuses) if (s === order[at]) at++;
    if (at < order.length) throw new Error(`badge went ${statuses.join(" → ")}, wanted working → permission_prompt → idle`);
    console.log(`   badge went ${statuses.join(" → ")}`);

    step("typing works: a second prompt is echoed and answered");
    await page.click("#terminal");
    await page.keyboard.type("hello from the browser", { delay: 25 });
    await page.keyboard.press("Enter");
    await waitScreen(page, "You said: hello from the browser");
    await waitStatus(page, "fake-claude", "idle");
    await shot(page, "dashboard-terminal.png");

    step("a resize of the window reaches the session's pty");
    const before = await sessionSize("fake-claude");
    await page.setViewportSize({ width: 1000, height: 600 });
    await page.waitForFunction(async (b) => {
      const r = await fetch("/v1/sessions").then((x) => x.json());
      const s = r.sessions.find((x) => x.name === "fake-claude");
      return s && (s.cols !== b.cols || s.rows !== b.rows);
    }, before, { timeout: STEP, polling: 200 });

    step("kill the session from the page");
    page.once("dialog", (d) => d.accept());
    await row(page, "fake-claude").click();
    await page.click("#kill");
    await row(page, "fake-claude").waitFor({ state: "detached", timeout: STEP });

    step("sign out drops the cookie");
    await page.click("#logout");
    await page.waitForSelector("#login:not([hidden])", { timeout: STEP });
    await page.reload();
    await page.waitForSelector("#login:not([hidden])", { timeout: STEP });

    if (problems.length) throw new Error(problems.join("\n"));
    console.log("dashboard e2e: ok");
  } finally {
    await browser.close();
  }
}

async function sessionSize(name) {
  const r = await fetch(`${URL}/v1/sessions`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((x) => x.json());
  const s = r.sessions.find((x) => x.name === name);
  if (!s) throw new Error(`no session ${name}`);
  return { cols: s.cols, rows: s.rows };
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
