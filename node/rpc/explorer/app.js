// The Audiera explorer: one page, views chosen by the URL's #fragment, data from the node's JSON API,
// live updates from its websocket feed. Every text from the chain is set as text, never as HTML.
"use strict";

const view = document.getElementById("view");
let feed = null;
let onHead = null; // the current view's wish to hear of new heads

// ---------------------------------------------------------------- helpers

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function api(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error ? body.error.message : `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

const enc = encodeURIComponent;
const short = (text, keep = 10) => (text && text.length > keep + 2 ? text.slice(0, keep) + "…" : text || "");
const link = (href, text, title) => h("a", { href, title }, text);
const blockLink = (ref, text) => link(`#/block/${enc(ref)}`, text ?? ref);
const eventLink = (id) => h("a", { href: `#/event/${enc(id)}`, class: "mono", title: id }, short(id, 12));
const assetLink = (cid, title) => h("a", { href: `#/asset/${enc(cid)}`, title: cid }, title || short(cid, 14));
const accountLink = (did, name) => h("a", { href: `#/account/${enc(did)}`, class: name ? "" : "mono", title: did }, name || short(did, 18));
const badge = (text) => h("span", { class: `badge ${text}` }, text);
const time = (ms) => (ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "");
const credits = (n) => `${n} cr`;

function fields(pairs) {
  return h("dl", { class: "fields" }, pairs.filter((p) => p).map(([name, value]) => [h("dt", {}, name), h("dd", {}, value ?? "")]));
}

function table(headers, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c)))))));
}

function card(label, value, id) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value", id }, value));
}

function figure(caption, ...content) {
  return h("figure", {}, h("figcaption", {}, caption), ...content);
}

function show(...content) {
  view.replaceChildren(...content);
}

function describe(event) {
  const body = event.body || {};
  switch (event.kind) {
    case "participant.register": return `${body.name} (${(body.roles || []).join(", ")})`;
    case "asset.register": return body.title;
    case "model.register": case "app.register": return `${body.name} ${body.version}`;
    case "authority.vote": return `${body.add ? "add" : "remove"} ${short(body.candidate, 18)}`;
    default: return body.asset ? short(body.asset, 16) : "";
  }
}

// ---------------------------------------------------------------- the feed

function connectFeed() {
  const live = document.getElementById("live");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  feed = new WebSocket(`${scheme}://${location.host}/v1/feed?topics=heads,final,events`);
  feed.onopen = () => { live.textContent = "live"; live.className = "live on"; };
  feed.onclose = () => {
    live.textContent = "offline"; live.className = "live off";
    setTimeout(connectFeed, 3000);
  };
  feed.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (onHead) onHead(data);
  };
}

// ---------------------------------------------------------------- views

async function overview() {
  const status = await api("/v1/status");
  const from = Math.max(1, status.head_height - 9);
  const headers = status.head_height ? (await api(`/v1/headers?from=${from}&limit=10`)).headers.reverse() : [];
  const blockRow = (b) => [blockLink(String(b.height)), h("span", { class: "mono" }, short(b.hash, 12)), time(b.ts), accountLink(b.proposer), b.final ? badge("final") : badge("pending")];
  const rows = h("tbody", {}, headers.map((b) => h("tr", {}, blockRow(b).map((c) => h("td", {}, c)))));
  const eventsBody = h("tbody");
  const eventsTable = h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["Block", "Kind", "Event", "Author", "What"].map((t) => h("th", {}, t)))), eventsBody));
  show(
    h("h1", {}, `Network ${status.network_id}`),
    h("div", { class: "cards" },
      card("Head", String(status.head_height), "head-height"),
      card("Finalized", String(status.finalized_height), "final-height"),
      card("Authorities", String(status.authorities.length)),
      card("Peers", String(status.peers.length)),
      card("Mempool", `${status.mempool.pending} + ${status.mempool.queued}`, "mempool"),
      card("Block period", `${status.block_period_ms / 1000} s`)),
    fields([["Head hash", h("span", { class: "mono" }, status.head_hash)], ["Head time", time(status.head_time)],
      ["This node", h("span", { class: "mono" }, status.node_id)], ["Signs blocks", status.authority ? accountLink(status.authority) : "no"],
      ["Syncing", status.syncing ? "yes" : "no"]]),
    h("h2", {}, "Latest blocks"),
    h("div", { class: "scroll" }, h("table", { id: "latest-blocks" }, h("thead", {}, h("tr", {}, ["Height", "Hash", "Time", "Proposer", ""].map((t) => h("th", {}, t)))), rows)),
    h("h2", {}, "Live events"),
    h("p", { class: "muted", id: "live-hint" }, "Events appear here as blocks include them."),
    eventsTable,
  );
  onHead = (message) => {
    if (message.type === "head") {
      document.getElementById("head-height").textContent = String(message.height);
      rows.prepend(h("tr", {}, blockRow({ ...message, final: false }).map((c) => h("td", {}, c))));
      while (rows.children.length > 10) rows.lastChild.remove();
    } else if (message.type === "final") {
      document.getElementById("final-height").textContent = String(message.height);
    } else if (message.type === "events") {
      document.getElementById("live-hint").remove?.();
      for (const event of message.events) {
        eventsBody.prepend(h("tr", {}, [blockLink(String(message.height)), event.kind, eventLink(event.id), accountLink(event.author), describe(event)].map((c) => h("td", {}, c))));
      }
      while (eventsBody.children.length > 20) eventsBody.lastChild.remove();
    }
  };
}

async function blocks(params) {
  const status = await api("/v1/status");
  const top = Math.min(Number(params.get("to")) || status.head_height, status.head_height);
  const from = Math.max(1, top - 24);
  const headers = top ? (await api(`/v1/headers?from=${from}&limit=${top - from + 1}`)).headers.reverse() : [];
  show(
    h("h1", {}, "Blocks"),
    table(["Height", "Hash", "Time", "Proposer", "Difficulty", ""], headers.map((b) => [
      blockLink(String(b.height)), h("span", { class: "mono" }, short(b.hash, 16)), time(b.ts), accountLink(b.proposer), b.difficulty, b.final ? badge("final") : badge("pending"),
    ]), "No blocks yet."),
    h("div", { class: "pager" },
      top < status.head_height ? link(`#/blocks?to=${Math.min(status.head_height, top + 25)}`, "← newer") : null,
      from > 1 ? link(`#/blocks?to=${from - 1}`, "older →") : null),
  );
}

async function block(ref) {
  const b = await api(`/v1/blocks/${enc(ref)}?events=true`);
  show(
    h("h1", {}, `Block ${b.height}`),
    fields([
      ["Status", b.final ? badge("final") : badge("pending")],
      ["Hash", h("span", { class: "mono" }, b.hash)],
      ["Parent", b.height > 1 ? blockLink(b.parent, short(b.parent, 16)) : h("span", { class: "mono" }, "genesis")],
      ["Time", time(b.ts)], ["Proposer", accountLink(b.proposer)], ["Difficulty", b.difficulty === 2 ? "2 (in turn)" : "1 (out of turn)"],
      ["Events root", h("span", { class: "mono" }, b.events_root)], ["State root", h("span", { class: "mono" }, b.state_root)],
    ]),
    h("div", { class: "pager" }, b.height > 1 ? blockLink(String(b.height - 1), "← previous") : null, blockLink(String(b.height + 1), "next →")),
    h("h2", {}, `${b.event_count} events`),
    table(["#", "Kind", "Event", "Author", "What"], b.events.map((e, i) => [i, e.kind, eventLink(e.id), accountLink(e.author), describe(e)]), "This block carries no events."),
  );
}

function hexBytes(hex) {
  return new Uint8Array(hex.match(/../g).map((byte) => parseInt(byte, 16)));
}

async function sha256(...parts) {
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) { joined.set(part, offset); offset += part.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
}

// The same RFC 6962 walk the node's protocol/merkle.py does: leaf 0x00, inner nodes 0x01.
async function verifyProof(leafHex, proof, rootHex) {
  let current = await sha256(Uint8Array.of(0), hexBytes(leafHex));
  let [position, width] = [proof.index, proof.size];
  const path = proof.path.map(hexBytes);
  while (width > 1) {
    if ((position ^ 1) < width) {
      if (!path.length) return false;
      const sibling = path.shift();
      current = position & 1 ? await sha256(Uint8Array.of(1), sibling, current) : await sha256(Uint8Array.of(1), current, sibling);
    }
    position = Math.floor(position / 2);
    width = Math.floor((width + 1) / 2);
  }
  return !path.length && Array.from(current, (b) => b.toString(16).padStart(2, "0")).join("") === rootHex;
}

async function event(id) {
  const found = await api(`/v1/events/${enc(id)}`);
  const e = found.event;
  const parts = [h("h1", {}, e ? `${e.kind} event` : "Event"), fields([
    ["Status", badge(found.status)], ["Id", h("span", { class: "mono" }, found.id)],
    e && ["Author", accountLink(e.author)], e && ["Nonce", e.nonce], e && ["Signed at", time(e.ts)],
    found.block && ["Block", blockLink(String(found.block.height), `${found.block.height} (${short(found.block.hash, 12)})`)],
    found.reason && ["Reason", found.reason],
  ])];
  if (e) parts.push(h("h2", {}, "Body"), h("div", { class: "scroll" }, h("pre", { class: "mono", style: "margin:0;padding:.7rem" }, JSON.stringify(e.body, null, 2))));
  if (found.proof) {
    const verified = await verifyProof(found.id, found.proof, found.events_root);
    parts.push(h("h2", {}, "Inclusion proof"), fields([
      ["Checked here", h("span", { id: "proof-check", class: `badge ${verified ? "ok" : "bad"}` }, verified ? "✓ leads to the block's events root" : "✗ does not verify")],
      ["Leaf", `${found.proof.index} of ${found.proof.size}`], ["Events root", h("span", { class: "mono" }, found.events_root)],
      ["Path", found.proof.path.length ? h("ol", {}, found.proof.path.map((p) => h("li", { class: "mono" }, p))) : "(the block's only event)"],
    ]));
  }
  show(...parts);
}

function termsTable(terms) {
  return table(["Purpose", "Mode", "Price"], Object.entries(terms.purposes).map(([purpose, rule]) => [purpose, rule.mode, rule.price ? credits(rule.price) : ""]));
}

function usageCharts(days, caption) {
  const points = days.map((d) => ({ label: d.day, value: d.total_accesses }));
  const revenue = days.map((d) => ({ label: d.day, value: d.revenue }));
  return [figure(`${caption}: accesses per day`, Charts.line(points, { label: "accesses per day" })),
    figure(`${caption}: income per day`, Charts.line(revenue, { label: "income per day", unit: " cr" }))];
}

function lineageGraph(assets, models, apps, people) {
  const nodes = [], edges = [];
  const add = (node) => { if (!nodes.some((n) => n.id === node.id)) nodes.push(node); };
  apps.forEach((a) => { add({ id: `app:${a.id}`, label: `${a.name} ${a.version}`, kind: "app", layer: 0, href: `#/lineage/${a.id}` }); a.models.forEach((m) => edges.push([`app:${a.id}`, `model:${m}`])); });
  models.forEach((m) => add({ id: `model:${m.id}`, label: `${m.name} ${m.version}`, kind: "model", layer: 1, href: `#/lineage/${m.id}` }));
  assets.forEach((a) => {
    add({ id: `asset:${a.asset}`, label: a.title, kind: "asset", layer: 2, href: `#/asset/${a.asset}` });
    if (a.model) edges.push([`model:${a.model}`, `asset:${a.asset}`]);
    (a.rights_holders || []).forEach((share) => {
      const person = people.find((p) => p.account === share.account);
      add({ id: `person:${share.account}`, label: person ? person.name : short(share.account, 16), kind: "person", layer: 3, href: `#/account/${share.account}` });
      edges.push([`asset:${a.asset}`, `person:${share.account}`]);
    });
  });
  return Charts.graph(nodes, edges, { label: "lineage" });
}

async function asset(cid) {
  const [found, licenses, usage, lineage] = await Promise.all([
    api(`/v1/assets/${enc(cid)}`), api(`/v1/assets/${enc(cid)}/licenses`), api(`/v1/assets/${enc(cid)}/usage`), api(`/v1/lineage/${enc(cid)}`),
  ]);
  const a = found.asset;
  const holders = a.rights_holders;
  const names = new Map(await Promise.all(holders.map(async (s) => [s.account, (await api(`/v1/accounts/${enc(s.account)}?limit=1`)).account.name])));
  const [pieSvg, legend] = Charts.pie(holders.map((s) => ({ label: names.get(s.account) || short(s.account, 14), value: s.share_bps })), { label: "royalty split" });
  const people = holders.map((s) => ({ account: s.account, name: names.get(s.account) }));
  show(
    h("h1", {}, a.title),
    fields([
      ["Status", badge(a.status)], ["CID", h("span", { class: "mono" }, a.id)], ["Type", a.asset_type], ["Genre", a.genre],
      ["Tags", a.tags.join(", ")], ["Media", a.media ? `${a.media.format}, ${a.media.duration_ms / 1000} s, ${a.media.sample_rate} Hz, ${a.media.channels} ch` : "—"],
      ["Size", `${a.size} bytes`], ["Registered by", accountLink(a.registrant, names.get(a.registrant))], ["Registered at block", blockLink(String(a.registered_at))],
      a.description && ["Description", a.description], a.isrc && ["ISRC", a.isrc], a.iswc && ["ISWC", a.iswc],
      ["Content", h("a", { href: `/ipfs/${enc(a.id)}?format=car` }, "CAR from this node's IPFS gateway")],
    ]),
    h("h2", {}, "Money and use"),
    h("div", { class: "charts" },
      figure("Royalty split of every payment", pieSvg, legend),
      ...usageCharts(usage.days, "This asset")),
    h("h2", {}, "Terms in force"),
    termsTable(a.terms),
    h("p", { class: "muted" }, `Commercial use ${a.terms.commercial ? "permitted" : "not permitted"}; attribution ${a.terms.attribution ? "required" : "not required"}; derivatives ${a.terms.derivatives ? "permitted" : "not permitted"}.`),
    h("h2", {}, "Provenance history"),
    table(["Block", "Kind", "Event", "Author", ""], found.history.items.map((item) => [blockLink(String(item.height)), item.event.kind, eventLink(item.event.id), accountLink(item.event.author, names.get(item.event.author)), item.final ? badge("final") : badge("included")])),
    h("h2", {}, "Licenses"),
    table(["License", "Holder", "Purposes", "Source", "Used", "Status"], licenses.licenses.items.map((l) => [eventLink(l.id), accountLink(l.grantee), l.purposes.join(", "), l.source + (l.price ? ` (${credits(l.price)})` : ""), l.used, badge(l.status)]), "No licenses issued."),
    h("h2", {}, "Lineage"),
    lineage.models.length || lineage.apps.length
      ? figure("Models trained on it, apps built on them, and the people behind it", lineageGraph(
        lineage.models.map((m) => ({ asset: cid, model: m.id, title: a.title, rights_holders: holders })), lineage.models, lineage.apps, people))
      : h("p", { class: "muted" }, "No model names this asset yet."),
  );
}

async function account(did) {
  const [found, royalties, licenses] = await Promise.all([
    api(`/v1/accounts/${enc(did)}`), api(`/v1/royalties/${enc(did)}`), api(`/v1/accounts/${enc(did)}/licenses`),
  ]);
  const a = found.account;
  const byAsset = royalties.items.map((item) => ({ label: item.title, value: item.revenue }));
  // Income over time: each held asset's income per day, in the proportion this holder's
  // statement got of that asset's income (the node's split, remainders included).
  const daily = new Map();
  for (const item of royalties.items.slice(0, 10)) {
    const usage = await api(`/v1/assets/${enc(item.asset)}/usage`);
    const part = usage.totals.revenue ? item.revenue / usage.totals.revenue : 0;
    for (const day of usage.days) daily.set(day.day, (daily.get(day.day) || 0) + day.revenue * part);
  }
  const overTime = [...daily.entries()].sort().map(([label, value]) => ({ label, value: Math.round(value * 100) / 100 }));
  show(
    h("h1", {}, a.name || "Unregistered account"),
    fields([["did:key", h("span", { class: "mono" }, a.did)], ["Roles", (a.roles || []).join(", ")], ["Balance", credits(a.balance)],
      ["Earned", credits(royalties.earned_total)], ["Spent", credits(royalties.spent_total)], ["Next nonce", a.next_nonce],
      a.registered_at && ["Registered at block", blockLink(String(a.registered_at))],
      ["Lineage", link(`#/lineage/${enc(a.did)}`, "apps and models built on this account's work")]]),
    h("h2", {}, "Royalties"),
    royalties.items.length
      ? h("div", { class: "charts" }, figure("Income by asset", Charts.bars(byAsset, { label: "income by asset", unit: " cr" })),
        figure("Income over time", Charts.line(overTime, { label: "income per day", unit: " cr" })))
      : h("p", { class: "muted" }, "No royalties yet."),
    table(["Asset", "Share", "Accesses", "Purchases", "Income"], royalties.items.map((item) => [assetLink(item.asset, item.title), `${item.share_bps / 100}%`, item.total_accesses, item.purchases, credits(item.revenue)]), ""),
    h("h2", {}, "Activity"),
    table(["Block", "Kind", "Event", "What"], found.activity.items.map((item) => [blockLink(String(item.height)), item.event.kind, eventLink(item.event.id), describe(item.event)])),
    h("h2", {}, "Licenses held"),
    table(["License", "Asset", "Purposes", "Used", "Status"], licenses.licenses.items.map((l) => [eventLink(l.id), assetLink(l.asset), l.purposes.join(", "), l.used, badge(l.status)]), "No licenses."),
  );
}

async function lineage(ref) {
  const found = await api(`/v1/lineage/${enc(ref)}`);
  if (found.kind === "asset") return asset(ref);
  if (found.kind === "account") {
    show(h("h1", {}, `Built on ${found.name || short(found.account, 18)}'s work`),
      table(["App", "Version", "Through model", "Through asset"], found.apps.map((a) => [link(`#/lineage/${a.id}`, a.name), a.version, link(`#/lineage/${a.via_model}`, short(a.via_model, 12)), assetLink(a.via_asset)]), "No app uses this account's work yet."));
    return;
  }
  const subject = found.kind === "model" ? found.model : found.app;
  const models = found.kind === "model" ? [found.model] : found.models;
  const apps = found.kind === "model" ? found.apps : [found.app];
  show(
    h("h1", {}, `${found.kind === "model" ? "Model" : "App"} ${subject.name} ${subject.version}`),
    fields([["Id", h("span", { class: "mono" }, subject.id)], ["Author", accountLink(subject.author)], ["Registered at block", blockLink(String(subject.registered_at))],
      found.kind === "model" && ["Manifest", `${subject.manifest_size} assets, root ${short(subject.manifest_root, 16)}`]]),
    h("h2", {}, "Lineage"),
    figure("Apps, models, recordings and the people behind them", lineageGraph(found.assets.items, models, apps, found.people)),
    h("h2", {}, "Training data"),
    table(["Asset", "Type", "Model", "License"], found.assets.items.map((item) => [assetLink(item.asset, item.title), item.asset_type, link(`#/lineage/${item.model}`, short(item.model, 12)), item.license ? eventLink(item.license) : "free"])),
    h("h2", {}, "People"),
    table(["Person", "Roles", "Assets used"], found.people.map((p) => [accountLink(p.account, p.name), p.roles.join(", "), p.assets])),
  );
}

async function authorities() {
  const [set, evidence, status] = await Promise.all([api("/v1/authorities"), api("/v1/evidence"), api("/v1/status")]);
  const from = Math.max(1, status.head_height - 99);
  const headers = status.head_height ? (await api(`/v1/headers?from=${from}&limit=100`)).headers : [];
  const produced = new Map();
  for (const header of headers) produced.set(header.proposer, (produced.get(header.proposer) || 0) + 1);
  show(
    h("h1", {}, "Authorities"),
    h("p", { class: "muted" }, `The set that signs block ${set.head_height + 1}; production over the last ${headers.length} blocks.`),
    h("div", { class: "charts" }, figure("Blocks signed recently", Charts.bars(set.authorities.map((did) => ({ label: short(did, 18), value: produced.get(did) || 0 })), { label: "blocks per authority" }))),
    table(["Authority", "Blocks signed", "Last seen"], set.authorities.map((did) => {
      const last = [...headers].reverse().find((x) => x.proposer === did);
      return [accountLink(did), produced.get(did) || 0, last ? blockLink(String(last.height)) : "—"];
    })),
    h("h2", {}, "Standing votes"),
    table(["Candidate", "Vote", "By"], set.votes.map((v) => [accountLink(v.candidate), v.add ? "add" : "remove", accountLink(v.voter)]), "No standing votes."),
    h("h2", {}, "Equivocation evidence"),
    table(["Authority", "Height", "The two headers it signed"], evidence.evidence.map((e) => [accountLink(e.proposer), e.height, e.headers.map((x) => short(x.hash, 12)).join(" and ")]), "No authority has signed two blocks at one height."),
  );
}

async function search(params) {
  const q = params.get("q") || "";
  const found = await api(`/v1/catalog?q=${enc(q)}&limit=50`);
  show(
    h("h1", {}, q ? `Catalog: “${q}”` : "Catalog"),
    table(["Title", "Type", "Genre", "Duration", "Rights holders", "Registered"], found.items.map((a) => [
      assetLink(a.id, a.title), a.asset_type, a.genre, a.duration_ms ? `${(a.duration_ms / 1000).toFixed(1)} s` : "",
      a.rights_holders.map((s) => `${short(s.account, 14)} ${s.share_bps / 100}%`).join(", "), blockLink(String(a.registered_at)),
    ]), "Nothing in the catalog matches."),
  );
}

// ---------------------------------------------------------------- routing

const ROUTES = [
  [/^\/$/, () => overview()],
  [/^\/blocks$/, (m, params) => blocks(params)],
  [/^\/block\/(.+)$/, (m) => block(decodeURIComponent(m[1]))],
  [/^\/event\/([0-9a-f]{64})$/, (m) => event(m[1])],
  [/^\/asset\/(.+)$/, (m) => asset(decodeURIComponent(m[1]))],
  [/^\/account\/(.+)$/, (m) => account(decodeURIComponent(m[1]))],
  [/^\/lineage\/(.+)$/, (m) => lineage(decodeURIComponent(m[1]))],
  [/^\/authorities$/, () => authorities()],
  [/^\/search$/, (m, params) => search(params)],
];

async function route() {
  onHead = null;
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  for (const [pattern, render] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    try {
      await render(match, params);
      document.title = `${document.querySelector("h1")?.textContent || "Explorer"} · Audiera`;
    } catch (error) {
      show(h("h1", {}, error.status === 404 ? "Not found" : "Could not load this view"), h("p", { class: "error" }, error.message));
    }
    return;
  }
  show(h("h1", {}, "Not found"), h("p", { class: "error" }, `There is no view at ${path}.`));
}

document.getElementById("search").addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const text = document.getElementById("search-text").value.trim();
  if (/^[0-9a-f]{64}$/.test(text)) location.hash = `#/event/${text}`;
  else if (/^\d+$/.test(text)) location.hash = `#/block/${text}`;
  else if (text.startsWith("did:key:")) location.hash = `#/account/${enc(text)}`;
  else if (/^baf[a-z2-7]{20,}$/.test(text)) location.hash = `#/asset/${enc(text)}`;
  else location.hash = `#/search?q=${enc(text)}`;
});
window.addEventListener("hashchange", route);
connectFeed();
route();
