#!/usr/bin/env node
// audiera-js: check the wire vectors, or sign and submit an event to a node.
//   audiera-js vectors docs/wire-vectors.json
//   audiera-js register --node URL --seed HEX --name NAME --roles creator,contributor
//   audiera-js set-terms --node URL --seed HEX --asset CID [--allow P] [--purchase P=N] [--per-access P=N] [--commercial]
// Prints one JSON line per result; exits 1 with the reason on stderr on any failure.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  NodeClient, assetTerms, canonicalEncode, fromHex, keyFromSeed, participantRegister, signEvent, signingInput, terms, toHex,
} from "../audiera.mjs";

function fromJson(value) {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$bin") return fromHex(value.$bin);
    return Object.fromEntries(keys.map((key) => [key, fromJson(value[key])]));
  }
  return value;
}

function expect(what, actual, expected) {
  if (actual !== expected) throw new Error(`${what}: got ${actual}, expected ${expected}`);
}

function checkVectors(path) {
  const vectors = JSON.parse(readFileSync(path, "utf8"));
  const keys = vectors.keys.map((entry) => {
    const key = keyFromSeed(fromHex(entry.seed_hex));
    expect(`public key of seed ${entry.seed_hex}`, toHex(key.publicKey), entry.public_key_hex);
    expect(`did of seed ${entry.seed_hex}`, key.did, entry.did);
    return key;
  });
  for (const entry of vectors.encoding) {
    expect(`encoding of ${entry.what}`, toHex(canonicalEncode(fromJson(entry.value))), entry.hex);
  }
  for (const entry of vectors.events) {
    const { kind, body, nonce, ts, author } = fromJson(entry.envelope);
    const key = keys[entry.key];
    expect(`author of ${kind}`, key.did, author);
    const signed = signEvent(key, { kind, body }, nonce, ts);
    expect(`unsigned bytes of ${kind}`, toHex(signed.unsignedBytes), entry.unsigned_hex);
    expect(`signing input of ${kind}`, toHex(signingInput(signed.unsignedBytes)), entry.signing_input_hex);
    expect(`signature of ${kind}`, toHex(signed.signature), entry.sig_hex);
    expect(`signed bytes of ${kind}`, toHex(signed.signedBytes), entry.signed_hex);
    expect(`id of ${kind}`, signed.id, entry.id_hex);
  }
  return { keys: vectors.keys.length, encodings: vectors.encoding.length, events: vectors.events.length };
}

function priced(list, mode, into) {
  for (const item of list ?? []) {
    const [purpose, price] = item.split("=");
    if (!/^[0-9]+$/.test(price ?? "")) throw new Error(`--${mode.replace("_", "-")} takes PURPOSE=PRICE, not ${item}`);
    into[purpose] = [mode, Number(price)];
  }
}

async function submit(options, event) {
  const client = new NodeClient(options.node);
  const key = keyFromSeed(fromHex(options.seed));
  const nonce = options.nonce ? Number(options.nonce) : await client.nextNonce(key.did);
  const signed = signEvent(key, event, nonce);
  const answer = await client.submit(signed.signedBytes);
  expect("id the node computed", answer.id, signed.id);
  return { ...answer, author: key.did, nonce, signed_hex: toHex(signed.signedBytes) };
}

const OPTIONS = {
  node: { type: "string", default: "http://127.0.0.1:8680" },
  seed: { type: "string" },
  nonce: { type: "string" },
  name: { type: "string" },
  roles: { type: "string" },
  asset: { type: "string" },
  allow: { type: "string", multiple: true },
  purchase: { type: "string", multiple: true },
  "per-access": { type: "string", multiple: true },
  commercial: { type: "boolean", default: false },
};

async function main() {
  const { values, positionals } = parseArgs({ options: OPTIONS, allowPositionals: true });
  const [command, ...rest] = positionals;
  if (command === "vectors") return checkVectors(rest[0]);
  if (!values.seed) throw new Error("--seed HEX (32 bytes) is required");
  if (command === "register") {
    if (!values.name || !values.roles) throw new Error("register needs --name and --roles");
    return submit(values, participantRegister(values.name, values.roles.split(",")));
  }
  if (command === "set-terms") {
    if (!values.asset) throw new Error("set-terms needs --asset CID");
    const modes = {};
    for (const purpose of values.allow ?? []) modes[purpose] = ["allowed", 0];
    priced(values.purchase, "purchase", modes);
    priced(values["per-access"], "per_access", modes);
    return submit(values, assetTerms(values.asset, terms({ modes, commercial: values.commercial })));
  }
  throw new Error("usage: audiera-js vectors FILE | register ... | set-terms ...");
}

main().then(
  (result) => process.stdout.write(JSON.stringify(result) + "\n"),
  (error) => {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  },
);
