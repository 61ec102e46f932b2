// The inspector page: collects inputs, calls the verifier core (compiled to
// WebAssembly by scripts/build-web.sh) and renders its JSON report. No
// decision is made here; the page only presents what the core answered.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const envelopes = []; // {name, bytes: Uint8Array}
  let verifier = null;

  // ---- DOM helpers: text only, never innerHTML (subjects are attacker-chosen).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const badge = (cls, text) => el("span", { class: "badge " + cls, text: text || cls });
  function table(rows) {
    return el("table", {}, rows.filter((r) => r && r[1] !== undefined && r[1] !== null && r[1] !== "")
      .map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { class: "msg" }, v))));
  }

  function bytesToBase64(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  }
  const base64ToBytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

  // ---- Loading the verifier: async instantiation from inlined bytes works
  // from file:// (no fetch) and is allowed for large modules on the main thread.
  async function load() {
    try {
      if (typeof wasm_bindgen !== "function" || !self.VNS_INSPECTOR_WASM) {
        throw new Error("pkg/inspector.js or pkg/inspector_wasm.js is missing: run `make web`");
      }
      await wasm_bindgen({ module_or_path: base64ToBytes(self.VNS_INSPECTOR_WASM) });
      verifier = wasm_bindgen;
      $("run").disabled = false;
      $("run").textContent = "Inspect";
      document.body.dataset.ready = "true";
    } catch (e) {
      $("run").textContent = "Verifier unavailable";
      showError("The verifier module did not load: " + e.message);
    }
  }

  // ---- Inputs
  async function addFiles(files) {
    for (const f of files) {
      envelopes.push({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) });
    }
    listEnvelopes();
  }
  function listEnvelopes() {
    $("envelope-list").replaceChildren(...envelopes.map((e) =>
      el("li", {}, el("span", { class: "mono", text: e.name }), ` (${e.bytes.length} bytes)`)));
  }
  const zone = $("dropzone");
  zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    addFiles([...ev.dataTransfer.files]);
  });
  document.addEventListener("dragover", (ev) => ev.preventDefault());
  document.addEventListener("drop", (ev) => ev.preventDefault());
  $("envelopes").addEventListener("change", (ev) => {
    // Copy first: clearing the input (to allow re-adding a file) empties its FileList.
    const files = [...ev.target.files];
    ev.target.value = "";
    addFiles(files);
  });
  $("settings-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (f) $("settings").value = await f.text();
    ev.target.value = "";
  });
  $("time").value = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  $("clear").addEventListener("click", () => {
    envelopes.length = 0;
    listEnvelopes();
    $("bundle").value = "";
    $("report").replaceChildren();
  });
  $("run").addEventListener("click", run);

  // ---- Running
  function run() {
    if (!verifier) return;
    const settings = $("settings").value.trim();
    const bundle = $("bundle").value.trim();
    const time = $("time").value.trim();
    try {
      if (!settings) return inspectOnly(bundle);
      if (bundle) {
        return render(JSON.parse(verifier.verify_bundle(settings, $("reference").value, bundle, time)));
      }
      if (envelopes.length === 0) return showError("Drop at least one signature envelope, or paste a bundle manifest.");
      const input = JSON.stringify(envelopes.map((e) => ({ mediaType: "", base64: bytesToBase64(e.bytes) })));
      render(JSON.parse(verifier.verify(settings, $("reference").value, $("descriptor").value, input, time)));
    } catch (e) {
      showError("The inspector failed: " + e.message);
    }
  }

  function inspectOnly(bundle) {
    let items = envelopes.map((e) => ({ name: e.name, mediaType: "", bytes: e.bytes }));
    if (bundle) {
      let manifest;
      try { manifest = JSON.parse(bundle); } catch (e) { return showError("The bundle manifest is not JSON: " + e.message); }
      // vns carries each envelope in the layer's dev.vns.notation.envelope annotation.
      const copy = (l) => (l.annotations || {})["dev.vns.notation.envelope"];
      items = (manifest.layers || []).filter((l) => typeof copy(l) === "string")
        .map((l, i) => ({ name: `layer ${i}`, mediaType: l.mediaType || "", bytes: base64ToBytes(copy(l)) }));
    }
    if (items.length === 0) return showError("Drop at least one signature envelope, or paste a bundle manifest.");
    const reports = items.map((it) => JSON.parse(verifier.inspect(it.bytes, it.mediaType)).report);
    const out = $("report");
    out.replaceChildren(
      el("div", { class: "banner skipped", id: "summary", "data-outcome": "inspected" },
        el("h2", { id: "outcome", text: `Inspected ${reports.length} envelope${reports.length > 1 ? "s" : ""}` }),
        el("div", { text: "No policy settings were given: integrity is checked, trust is not. Paste the settings to verify." })),
      ...reports.map((r, i) => envelopeCard(r, i, null, items[i].name, new Date())));
  }

  // ---- Rendering
  function showError(message) {
    $("report").replaceChildren(el("div", { class: "banner error", id: "summary", "data-outcome": "error" },
      el("h2", { id: "outcome", text: "Cannot inspect" }), el("div", { id: "error", text: message })));
  }

  function render(answer) {
    if (!answer.ok) return showError(answer.error);
    const r = answer.report;
    const s = r.summary;
    const title = { verified: "Verified", failed: "Verification failed", skipped: "Skipped by the trust policy" }[s.outcome] || s.outcome;
    const banner = el("div", { class: "banner " + s.outcome, id: "summary", "data-outcome": s.outcome, "data-admission": s.admission },
      el("h2", {}, el("span", { id: "outcome", text: title }), " ", badge(s.admission, "admission: " + s.admission)),
      s.reason ? el("div", {}, el("strong", { id: "reason", class: "mono", text: s.reason }), " ", el("span", { id: "message", text: s.message || "" })) : null,
      s.hint ? el("div", { class: "hint", id: "hint" }, el("strong", { text: "What to do: " }), s.hint) : null,
      table([
        ["Image", el("span", { class: "mono", text: `${r.reference} @ ${r.descriptor.digest}` })],
        ["Trust policy statement", s.statement],
        ["Signer", s.signer ? el("span", { id: "signer", text: s.signer }) : null],
        ["Exception", s.exception],
        ["Verified at", r.time],
      ]),
      s.warnings.length ? el("ul", { class: "warnings" }, s.warnings.map((w) => el("li", { text: w }))) : null,
      (answer.notes || []).map((n) => el("p", { class: "note", text: n })));
    const at = new Date(r.time);
    const bySig = new Map(r.verdict.signatures.map((sig) => [sig.index, sig]));
    $("report").replaceChildren(banner, ...r.envelopes.map((env, i) => envelopeCard(env, i, bySig.get(i) || null, null, at)));
  }

  function envelopeCard(env, index, sig, name, at) {
    const status = sig ? (sig.passed ? badge("passed") : badge("failed")) : badge("notRun", "not examined");
    const card = el("div", { class: "card signature", "data-index": index, "data-passed": sig ? String(sig.passed) : "" },
      el("h3", {}, `Signature ${index + 1} · ${env.format}${env.algorithm ? " · " + env.algorithm : ""} `, status,
        name ? el("span", { class: "note", text: " " + name }) : null));
    if (sig) {
      card.append(el("h4", { text: "Validations" }), el("table", { class: "validations" },
        el("tr", {}, ["Validation", "Action", "Outcome", "Reason", "Message"].map((h) => el("th", { text: h }))),
        sig.validations.map((v) => el("tr", { class: "validation", "data-kind": v.kind, "data-outcome": v.outcome },
          el("td", { text: v.kind }), el("td", {}, badge(v.action)), el("td", {}, badge(v.outcome)),
          el("td", { class: "mono", text: v.reason || "" }), el("td", { class: "msg", text: v.message || "" })))));
    }
    const integrity = env.integrity;
    card.append(el("h4", { text: "Envelope" }), table([
      ["Integrity", el("span", { class: "integrity", "data-passed": String(integrity.passed) },
        badge(integrity.passed ? "passed" : "failed"), integrity.reason ? " " + integrity.reason + ": " + integrity.message : "")],
      ["Decode error", env.decodeError],
      ["Media type", env.mediaType],
      ["Envelope digest", el("span", { class: "mono", text: env.envelopeDigest })],
      ["Size", env.size + " bytes"],
      ["Signing scheme", env.signingScheme],
      ["Signing time", env.signingTime],
      ["Expiry", env.expiry],
      ["Signing agent", env.signingAgent],
      ["Verification plugin", env.verificationPlugin],
      ["Critical extended attributes", env.criticalExtendedAttributes.join(", ")],
    ]));
    if (env.payload) {
      const p = env.payload;
      card.append(el("h4", { text: "Signed artifact (payload)" }), table([
        ["Digest", el("span", { class: "mono payload-digest", text: p.digest })],
        ["Media type", p.mediaType],
        ["Size", String(p.size)],
        ...Object.entries(p.annotations).map(([k, v]) => [k, v]),
      ]));
    } else if (env.payloadError) {
      card.append(el("p", { class: "note", text: "Payload: " + env.payloadError }));
    }
    if (env.certificates.length || env.certificateErrors.length) {
      card.append(el("h4", { text: "Certificate chain (leaf first)" }), chainList(env.certificates, at, "chain"),
        env.certificateErrors.map((e) => el("p", { class: "note", text: "Unparseable certificate " + e })));
    }
    if (env.timestamp) {
      const t = env.timestamp;
      card.append(el("h4", { text: "RFC 3161 timestamp" }), table([
        ["Time (genTime)", t.genTime ? el("span", { class: "timestamp-time", text: t.genTime }) : null],
        ["Accuracy", t.accuracyMillis !== null && t.accuracyMillis !== undefined ? t.accuracyMillis + " ms" : null],
        ["TSA policy", t.policy],
        ["Imprint hash", t.imprintHash],
        ["Error", t.error],
      ]));
      if (t.certificates.length) card.append(chainList(t.certificates, at, "chain tsa-chain"));
    }
    return card;
  }

  function chainList(certs, at, cls) {
    const times = certs.flatMap((c) => [Date.parse(c.notBefore), Date.parse(c.notAfter)]).concat([at.getTime()]);
    const lo = Math.min(...times), hi = Math.max(...times), span = Math.max(hi - lo, 1);
    const pct = (t) => (100 * (t - lo) / span).toFixed(2) + "%";
    return el("ol", { class: cls }, certs.map((c) => {
      const nb = Date.parse(c.notBefore), na = Date.parse(c.notAfter), now = at.getTime();
      const state = now < nb ? "notyet" : now > na ? "expired" : "valid";
      return el("li", { class: "cert", "data-validity": state },
        el("div", { class: "subject", text: c.subject }),
        el("div", { class: "meta" }, `${c.publicKey} · ${c.isCa ? "CA" : "end entity"}${c.selfSigned ? " · self-signed" : ""} · issuer: ${c.issuer}`),
        el("div", { class: "validity", title: `${c.notBefore} → ${c.notAfter}` },
          el("div", { class: "span " + state, style: `left:${pct(nb)};width:calc(${pct(na)} - ${pct(nb)})` }),
          el("div", { class: "now", style: `left:${pct(now)}` })),
        el("div", { class: "meta" }, `${c.notBefore.slice(0, 10)} → ${c.notAfter.slice(0, 10)} · ${state === "valid" ? "valid" : state === "expired" ? "expired" : "not yet valid"} at the verification time · sha256 ${c.sha256Fingerprint}`));
    }));
  }

  load();
})();
