// Audiera events from JavaScript: the canonical encoding, did:key, signing and submitting,
// written from docs/wire.md alone (sections are cited as "wire.md §N").

import { createHash } from "node:crypto";
import { encode } from "@msgpack/msgpack";
import nacl from "tweetnacl";

export const EVENT_VERSION = 1;
export const EVENT_DOMAIN = new TextEncoder().encode("audiera/event/v1\0"); // wire.md §4
export const PURPOSES = ["ai_training", "ai_generative_training", "ai_inference", "data_mining", "application"];
export const MODES = ["denied", "allowed", "purchase", "per_access"];

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const ED25519_PUB = Uint8Array.of(0xed, 0x01);
const MAX_DEPTH = 16;

export class WireError extends Error {}

function compareUtf8(a, b) {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return Buffer.compare(x, y);
}

// A copy of `value` whose maps have their keys in UTF-8 byte order (wire.md §1), refusing
// what has no canonical form instead of letting the encoder pick a form for it.
function canonical(value, depth = 0) {
  if (depth > MAX_DEPTH) throw new WireError(`value nests deeper than ${MAX_DEPTH} levels`);
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new WireError(`${value} is not an integer the encoding can carry exactly`);
    return value;
  }
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map((item) => canonical(item, depth + 1));
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const keys = Object.keys(value).sort(compareUtf8);
    const out = {};
    for (const key of keys) {
      if (value[key] === undefined) throw new WireError(`field ${key} is undefined: write null, "" or [] instead`);
      out[key] = canonical(value[key], depth + 1);
    }
    // JavaScript lists integer-like keys ("7") before all others whatever the insertion order.
    if (Object.keys(out).some((key, index) => key !== keys[index])) {
      throw new WireError(`map keys ${keys.join(", ")} cannot be kept in canonical order`);
    }
    return out;
  }
  throw new WireError(`${Object.prototype.toString.call(value)} values have no canonical encoding`);
}

export function canonicalEncode(value) {
  return encode(canonical(value), { sortKeys: false, ignoreUndefined: false, forceIntegerToFloat: false });
}

export function sha256(bytes) {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

export function toHex(bytes) {
  return Buffer.from(bytes).toString("hex");
}

export function fromHex(text) {
  if (!/^([0-9a-f]{2})*$/.test(text)) throw new WireError(`${text} is not lower-case hex`);
  return new Uint8Array(Buffer.from(text, "hex"));
}

export function base58btc(bytes) {
  let number = 0n;
  for (const byte of bytes) number = number * 256n + BigInt(byte);
  let out = "";
  while (number > 0n) {
    out = B58[Number(number % 58n)] + out;
    number /= 58n;
  }
  for (const byte of bytes) {
    if (byte !== 0) break;
    out = "1" + out;
  }
  return out;
}

export function didFromPublicKey(publicKey) {
  if (publicKey.length !== 32) throw new WireError("an Ed25519 public key has 32 bytes");
  const prefixed = new Uint8Array(34);
  prefixed.set(ED25519_PUB, 0);
  prefixed.set(publicKey, 2);
  return "did:key:z" + base58btc(prefixed); // wire.md §2
}

export function keyFromSeed(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new WireError("an Ed25519 seed has 32 bytes");
  const pair = nacl.sign.keyPair.fromSeed(seed);
  return { seed, publicKey: pair.publicKey, secretKey: pair.secretKey, did: didFromPublicKey(pair.publicKey) };
}

export function signingInput(unsignedBytes) {
  const input = new Uint8Array(EVENT_DOMAIN.length + unsignedBytes.length);
  input.set(EVENT_DOMAIN, 0);
  input.set(unsignedBytes, EVENT_DOMAIN.length);
  return input;
}

// wire.md §3-4: encode the envelope without sig, sign domain tag + those bytes, add sig,
// encode again; the id is sha2-256 of the signed bytes.
export function signEvent(key, { kind, body }, nonce, ts = Date.now()) {
  const envelope = { v: EVENT_VERSION, kind, author: key.did, nonce, ts, body };
  const unsignedBytes = canonicalEncode(envelope);
  const signature = nacl.sign.detached(signingInput(unsignedBytes), key.secretKey);
  const signedBytes = canonicalEncode({ ...envelope, sig: signature });
  return { envelope, unsignedBytes, signature, signedBytes, id: toHex(sha256(signedBytes)) };
}

// wire.md §5, terms: every purpose present, denied unless named.
export function terms({ modes = {}, commercial = false, attribution = true, derivatives = false, expires = 0 } = {}) {
  const purposes = {};
  for (const purpose of PURPOSES) {
    const [mode, price] = modes[purpose] ?? ["denied", 0];
    if (!MODES.includes(mode)) throw new WireError(`mode ${mode} is not one of ${MODES.join(", ")}`);
    const paid = mode === "purchase" || mode === "per_access";
    if (paid !== price > 0) throw new WireError(`${purpose}: a price is positive exactly when the mode is paid`);
    purposes[purpose] = { mode, price };
  }
  for (const purpose of Object.keys(modes)) {
    if (!PURPOSES.includes(purpose)) throw new WireError(`unknown purpose ${purpose}`);
  }
  return { purposes, commercial, attribution, derivatives, expires };
}

export function participantRegister(name, roles) {
  return { kind: "participant.register", body: { name, roles } };
}

export function assetTerms(asset, assetTermsValue) {
  return { kind: "asset.terms", body: { asset, terms: assetTermsValue } };
}

// The two RPC calls an application needs to send an event (wire.md §6).
export class NodeClient {
  constructor(url) {
    this.url = url.replace(/\/+$/, "");
  }

  async #json(response) {
    const answer = await response.json();
    if (!response.ok) {
      const error = answer.error ?? {};
      throw new WireError(`${error.message ?? response.statusText} (HTTP ${response.status} ${error.code ?? ""})`);
    }
    return answer;
  }

  async get(path) {
    return this.#json(await fetch(this.url + path));
  }

  async submit(signedBytes) {
    const response = await fetch(this.url + "/v1/events", {
      method: "POST",
      headers: { "content-type": "application/msgpack" },
      body: signedBytes,
    });
    return this.#json(response);
  }

  async nextNonce(did) {
    return (await this.get(`/v1/accounts/${did}`)).account.next_nonce;
  }
}
