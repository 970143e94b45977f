// The dashboard of a fleet member in headless Chromium (Debian's), driven by playwright-core.
// Run by tests/fleet_daemons.rs against real daemons on a real nats-server; every wait has a
// deadline, and any failure throws, so the process exits non-zero with the reason on stderr.
//
// Environment: AEGIS_URL (the daemon whose page is opened, host `a`), EXPECT (the sessions
// already there, `name=host,...`), WORK_DIR_B (a work dir on host `b`).
import { chromium } from "playwright-core";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL = env("AEGIS_URL");
const EXPECT = env("EXPECT").split(",").map((p) => p.split("="));
const WORK_B = env("WORK_DIR_B");
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
    const res = await fetch(`${URL}/v1/fleet/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        host: "b", name: "late-on-b", agentType: "shell", workDir: WORK_B,
        command: ["bash", "--norc", "--noprofile"],
      }),
    });
    if (res.status !== 201) throw new Error(`create on b: ${res.status} ${await res.text()}`);
    await hostShown(page, "late-on-b", "b");

    step("another host's terminal names the host instead of connecting");
    await page.click('#sessions li[data-name="late-on-b"]');
    await page.waitForFunction(
      () => document.querySelector("#term-note").textContent.includes("on host b"),
      null,
      { timeout: STEP },
    );

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
