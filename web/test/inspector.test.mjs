// The inspector page in headless Chromium (Debian's `chromium`, driven by
// playwright-core): real Notation vectors go in through the file input, and
// the test asserts what the page shows against expected.json.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync, existsSync, mkdirSync } from "node:fs";
import { join, extname } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import {
  webDir, repoDir, available, settings, expected, cases, envelopePath, reference, expectation, synthetic,
} from "./fixtures.mjs";

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const pageUrl = pathToFileURL(join(webDir, "index.html")).href;
const verificationTime = expected ? expected.verification_time.replace("+00:00", "Z") : "";
const descriptor = available ? readFileSync(join(synthetic, "artifact", "descriptor.json"), "utf8") : "";

let browser;

before(async () => {
  assert.ok(existsSync(join(webDir, "pkg", "inspector_wasm.js")), "web/pkg is missing: run `make web` first");
  assert.ok(available, `Notation vectors not found at ${synthetic}`);
  browser = await chromium.launch({
    executablePath,
    headless: true,
    // As root in a closed network: no sandbox, and none of Chromium's
    // background connections (they are refused and slow the start).
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
});

async function openPage(url = pageUrl) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  return { page, errors };
}

async function verifyCase(page, c) {
  await page.click("#clear");
  await page.setInputFiles("#envelopes", envelopePath(c));
  await page.fill("#settings", JSON.stringify(settings(), null, 2));
  await page.fill("#reference", reference(c));
  await page.fill("#descriptor", descriptor);
  await page.fill("#time", verificationTime);
  await page.click("#run");
  await page.waitForSelector("#summary");
}

for (const c of cases) {
  test(`the page shows the verdict of ${c.name} (${c.envelope} under "${c.statement}")`, async () => {
    const want = expectation(c);
    const { page, errors } = await openPage();
    await verifyCase(page, c);
    const outcome = await page.getAttribute("#summary", "data-outcome");
    assert.equal(outcome, want.pass ? "verified" : "failed", await page.textContent("#report"));
    assert.equal(await page.getAttribute("#summary", "data-admission"), want.pass ? "admit" : "deny");
    const card = page.locator(".card.signature").first();
    assert.equal(await card.getAttribute("data-passed"), String(want.pass));
    // The chain is listed leaf first with a validity bar per certificate.
    assert.ok(await card.locator("ol.chain > li.cert").count() >= 2);
    assert.equal(await card.locator("ol.chain > li.cert .validity").count(), await card.locator("ol.chain > li.cert").count());
    if (want.pass) {
      assert.equal(await page.locator("#reason").count(), 0);
      assert.match(await page.textContent("#signer"), /O=Synthetic Notation Test/);
      assert.equal(await card.locator('tr.validation[data-kind=integrity]').getAttribute("data-outcome"), "passed");
      assert.equal(await card.locator('tr.validation[data-kind=authenticity]').getAttribute("data-outcome"), "passed");
    } else {
      assert.equal(await page.textContent("#reason"), c.reason);
      assert.ok((await page.textContent("#hint")).length > 20, "a failure comes with what to do");
      const failed = card.locator(`tr.validation[data-kind=${want.validation}]`);
      assert.equal(await failed.getAttribute("data-outcome"), "failed");
      assert.equal(await failed.locator("td.mono").textContent(), c.reason);
    }
    if (c.envelope.startsWith("timestamp/")) {
      assert.match(await card.locator(".timestamp-time").textContent(), /^\d{4}-\d\d-\d\dT/);
      assert.ok(await card.locator("ol.tsa-chain > li.cert").count() >= 1);
      // The leaf expired before the verification time: its bar says so.
      assert.equal(await card.locator("ol.chain:not(.tsa-chain) > li.cert").first().getAttribute("data-validity"), "expired");
    }
    assert.deepEqual(errors, []);
    if (c.name === "tampered" || c.name === "valid") {
      // The screenshots in docs/ are refreshed on request only
      // (`make web-screenshots`); ordinary runs keep theirs out of git.
      const dir = process.env.VNS_UPDATE_SCREENSHOTS ? join(repoDir, "docs") : join(webDir, "test-results");
      mkdirSync(dir, { recursive: true });
      const file = c.name === "valid" ? "inspector.png" : "inspector-tampered.png";
      await page.screenshot({ path: join(dir, file), fullPage: true });
    }
    await page.close();
  });
}

test("without settings the page inspects: headers, payload, chain and integrity", async () => {
  const { page, errors } = await openPage();
  await page.setInputFiles("#envelopes", [
    join(synthetic, "envelopes", "valid", "cose-ec384-ES384.cose"),
    join(synthetic, "envelopes", "integrity", "cose-tampered-payload.cose"),
  ]);
  await page.click("#run");
  await page.waitForSelector("#summary");
  assert.equal(await page.getAttribute("#summary", "data-outcome"), "inspected");
  const cards = page.locator(".card.signature");
  assert.equal(await cards.count(), 2);
  assert.equal(await cards.nth(0).locator(".integrity").getAttribute("data-passed"), "true");
  assert.match(await cards.nth(0).textContent(), /ES384/);
  assert.match(await cards.nth(0).textContent(), /ECDSA P-384/);
  assert.equal(await cards.nth(1).locator(".integrity").getAttribute("data-passed"), "false");
  assert.match(await cards.nth(1).locator(".integrity").textContent(), /INVALID_SIGNATURE|MALFORMED_ENVELOPE/);
  const descriptorJson = JSON.parse(descriptor);
  assert.equal(await cards.nth(0).locator(".payload-digest").textContent(), descriptorJson.digest);
  assert.deepEqual(errors, []);
  await page.close();
});

test("input mistakes are shown as sentences", async () => {
  const { page } = await openPage();
  await page.setInputFiles("#envelopes", envelopePath(cases[0]));
  await page.fill("#settings", "trustPolicy: [unclosed");
  await page.click("#run");
  await page.waitForSelector("#summary[data-outcome=error]");
  assert.match(await page.textContent("#error"), /policy settings are not valid YAML\/JSON/);
  await page.fill("#settings", JSON.stringify(settings()));
  await page.fill("#time", "last tuesday");
  await page.click("#run");
  assert.match(await page.textContent("#error"), /RFC 3339/);
  await page.close();
});

test("a pasted bundle manifest is verified against its subject", async () => {
  const { page } = await openPage();
  const c = cases[0];
  const envelope = readFileSync(envelopePath(c));
  const digest = "sha256:" + (await import("node:crypto")).createHash("sha256").update(envelope).digest("hex");
  const subject = JSON.parse(descriptor);
  const bundle = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    artifactType: "application/vnd.vns.notation-bundle.v1",
    config: { mediaType: "application/vnd.oci.empty.v1+json", digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2, data: "e30=" },
    subject,
    layers: [{
      mediaType: "application/jose+json", digest, size: envelope.length,
      annotations: {
        "dev.vns.notation.envelope": envelope.toString("base64"),
        "dev.vns.notation.signature-manifest": "sha256:" + "1".repeat(64),
      },
    }],
  };
  await page.fill("#bundle", JSON.stringify(bundle));
  await page.fill("#settings", JSON.stringify(settings()));
  await page.fill("#reference", reference(c));
  await page.fill("#time", verificationTime);
  await page.click("#run");
  await page.waitForSelector("#summary");
  assert.equal(await page.getAttribute("#summary", "data-outcome"), "verified", await page.textContent("#report"));
  // The same bundle with a layer copy that does not match its digest.
  bundle.layers[0].digest = "sha256:" + "0".repeat(64);
  await page.fill("#bundle", JSON.stringify(bundle));
  await page.click("#run");
  await page.waitForSelector("#summary[data-outcome=error]");
  assert.match(await page.textContent("#error"), /layer 0/);
  await page.close();
});

test("the page also works from a static HTTP server", async () => {
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
  const server = createServer((req, res) => {
    const path = join(webDir, decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (!path.startsWith(webDir) || !existsSync(path)) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { "content-type": types[extname(path)] || "application/octet-stream" });
    res.end(readFileSync(path));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const { page, errors } = await openPage(`http://127.0.0.1:${server.address().port}/index.html`);
    await verifyCase(page, cases[0]);
    assert.equal(await page.getAttribute("#summary", "data-outcome"), "verified");
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    server.close();
  }
});
