// The dashboard of a fleet member in headless Chromium (Debian's), driven by playwright-core.
// Run by tests/fleet_daemons.rs against real daemons on a real nats-server; every wait has a
// deadline, and any failure throws, so the process exits non-zero with the reason on stderr.
//
// Environment: AEGIS_URL (the daemon whose page is opened, host `a`), EXPECT (the sessions
// already there, `name=host,...`), WORK_DIR_B (a work dir on host `b`), NATS_CONTROL (a
// directory: the test stops nats-server when a file `stop` appears there and starts it again
// on `start`).
import { writeFileSync } from "node:fs";
import { chromium } from "playwright-core";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL = env("AEGIS_URL");
const EXPECT = env("EXPECT").split(",").map((p) => p.split("="));
const WORK_B = env("WORK_DIR_B");
const NATS_CONTROL = env("NATS_CONTROL");
// Longest wait for one step: slack for a loaded 2-core CI machine.
const STEP = 20_000;

const step = (what) => console.log(`-- ${what}`);

async function hostShown(page, name, host) {
  await page.waitForFunction(
    ([n, h]) => document.querySelector(`#sessions li[data-name="${n}"] .host`)?.textContent === h,
    [name, host],
    { timeout: STEP },
  ).catch(async (e) => {
    const list = await page.locator("#sessions").innerText();
    throw new Error(`${name} never showed host ${host}; the list shows:\n${list}\n${e.message}`);
  });
}

// Create a session on host b through a, retrying while the fleet answers 503 (NATS away).
async function createOnB(name) {
  const deadline = Date.now() + STEP;
  for (;;) {
    const res = await fetch(`${URL}/v1/fleet/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        host: "b", name, agentType: "shell", workDir: WORK_B,
        command: ["bash", "--norc", "--noprofile"],
      }),
    });
    if (res.status === 201) return;
    if (res.status !== 503 || Date.now() > deadline) {
      throw new Error(`create ${name} on b: ${res.status} ${await res.text()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main() {
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

    step("the page of host a lists every host's sessions with their host");
    await page.goto(URL + "/");
    await page.waitForSelector("#app:not([hidden])", { timeout: STEP });
    for (const [name, host] of EXPECT) await hostShown(page, name, host);
    await page.waitForSelector('#conn[data-state="live"]', { timeout: STEP });

    step("a session created on b after the page loaded appears, live, with host b");
    await createOnB("late-on-b");
    await hostShown(page, "late-on-b", "b");

    step("another host's terminal names the host instead of connecting");
    await page.click('#sessions li[data-name="late-on-b"]');
    await page.waitForFunction(
      () => document.querySelector("#term-note").textContent.includes("on host b"),
      null,
      { timeout: STEP },
    );

    step("NATS goes away: the event stream ends and is refused, and the page says why");
    writeFileSync(`${NATS_CONTROL}/stop`, "");
    await page.waitForFunction(
      () => {
        const conn = document.querySelector("#conn");
        return conn.dataset.state === "down" && conn.textContent.includes("unavailable");
      },
      null,
      { timeout: STEP },
    );

    step("NATS is back: the page reconnects by itself and is live again");
    writeFileSync(`${NATS_CONTROL}/start`, "");
    await page.waitForSelector('#conn[data-state="live"]', { timeout: STEP });
    await createOnB("after-nats-on-b");
    await hostShown(page, "after-nats-on-b", "b");

    if (problems.length) throw new Error(problems.join("\n"));
    console.log("dashboard fleet: ok");
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
