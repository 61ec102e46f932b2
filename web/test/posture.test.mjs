// The posture report page (`vns report --output html`) in headless
// Chromium: it renders from file:// without fetching anything, and every
// number it shows is the number of the JSON report made from the same scan
// files. Both files are written by `cargo test -p vns --test posture`
// (against a real registry) into target/posture-report/, or
// $VNS_POSTURE_REPORT; `make test` runs that before this.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { repoDir, webDir } from "./fixtures.mjs";

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const dir = process.env.VNS_POSTURE_REPORT || join(repoDir, "target", "posture-report");
const htmlPath = join(dir, "report.html");
const jsonPath = join(dir, "report.json");

// Without the report (the Rust test has not run here) the test is skipped
// with the reason, except in CI, where `make test` made it first.
const missing = existsSync(htmlPath) && existsSync(jsonPath) ? false
  : `${dir} has no report.html/report.json: run \`cargo test -p vns --test posture\` first (make test does)`;
if (missing && process.env.CI) throw new Error(missing);

let browser;

before(async () => {
  if (missing) return;
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
});

test("the posture page renders offline and shows the numbers of the JSON report", { skip: missing }, async () => {
  const report = JSON.parse(readFileSync(jsonPath, "utf8"));
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  const requests = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("request", (r) => { if (!r.url().startsWith("file:")) requests.push(r.url()); });
  await page.goto(pathToFileURL(htmlPath).href);
  await page.waitForLoadState("load");

  const summaries = [...report.sources, report.total];
  assert.equal(await page.getAttribute("body", "data-sources"), String(report.sources.length));
  for (const s of summaries) {
    // Phase progress: the stepper says the verdict's phase.
    assert.equal(await page.getAttribute(`svg.phase[data-source="${s.name}"]`, "data-phase"), s.verdict.phase);
    // Classes per source: the table and the chart, class by class.
    for (const [kind, counts] of [["images", s.imagesByClass], ["workloads", s.workloadsByClass]]) {
      for (const [cls, n] of Object.entries(counts)) {
        const cell = page.locator(`td.count[data-source="${s.name}"][data-class="${cls}"][data-kind="${kind}"]`);
        assert.equal(await cell.textContent(), String(n), `${s.name} ${kind} ${cls}`);
      }
      const all = page.locator(`td.count[data-source="${s.name}"][data-class="all"][data-kind="${kind}"]`);
      assert.equal(await all.textContent(), String(s[kind]));
    }
    const segments = page.locator(`svg.classes[data-source="${s.name}"] rect.segment`);
    const drawn = {};
    for (let i = 0; i < await segments.count(); i++) {
      drawn[await segments.nth(i).getAttribute("data-class")] = Number(await segments.nth(i).getAttribute("data-count"));
    }
    const nonZero = Object.fromEntries(Object.entries(s.imagesByClass).filter(([, n]) => n > 0));
    assert.deepEqual(drawn, nonZero, `chart of ${s.name}`);
    const box = await page.locator(`svg.classes[data-source="${s.name}"]`).boundingBox();
    assert.ok(box && box.width > 100 && box.height > 10, "the chart is drawn");
    if (!s.verdict.readyForVerifyEnforce) {
      const next = s.verdict.readyForVerifyWarn ? s.verdict.blockingVerifyEnforce : s.verdict.blockingVerifyWarn;
      assert.equal(await page.getAttribute(`details.blocking[data-source="${s.name}"]`, "data-count"), String(next.length));
    }
  }
  // The work list per namespace and the expiring exceptions, from the total.
  for (const ns of report.total.workList) {
    assert.equal(await page.getAttribute(`th.namespace[data-namespace="${ns.namespace}"]`, "data-count"), String(ns.items.length));
  }
  assert.equal(await page.locator("tr.item").count(), report.total.workList.reduce((n, ns) => n + ns.items.length, 0));
  assert.equal(await page.locator("tr.exception").count(), report.total.expiringExceptions.length);
  for (const e of report.total.expiringExceptions) {
    const row = page.locator(`tr.exception[data-exception="${e.exception}"][data-source="${e.source}"]`);
    assert.equal(await row.locator("td.days").textContent(), String(e.daysLeft));
  }
  assert.equal(await page.locator("ul.pipelines > li").count(), report.total.pipelinesNotSigning.length);
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, [], "the page fetches nothing");
  // The screenshot in docs/ is refreshed on request (`make web-screenshots`).
  const out = process.env.VNS_UPDATE_SCREENSHOTS ? join(repoDir, "docs") : join(webDir, "test-results");
  mkdirSync(out, { recursive: true });
  await page.screenshot({ path: join(out, "posture-report.png"), fullPage: true });
  await page.close();
});
