#!/usr/bin/env node
// Fetch a CID from a trustless gateway and verify it without trusting the gateway:
// every block is hashed and checked against its CID (@ipld/car, multiformats), and the
// file (or the byte range asked for) is rebuilt from the verified blocks alone.
//   ipfs-verify.mjs car GATEWAY CID [QUERY]   e.g. QUERY = "dag-scope=block" or "entity-bytes=0:99"
//   ipfs-verify.mjs raw GATEWAY CID
// Prints one JSON line; exits 1 with the reason on stderr when anything does not verify.

import { createHash } from "node:crypto";
import { CarBlockIterator } from "@ipld/car";
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { equals } from "multiformats/bytes";

const RAW_CODE = 0x55;

async function verifiedBlock(cid, bytes) {
  if (cid.multihash.code !== sha256.code) throw new Error(`block ${cid} is not sha2-256 addressed`);
  const digest = await sha256.digest(bytes);
  if (!equals(digest.digest, cid.multihash.digest)) throw new Error(`block ${cid} does not match its CID`);
  return bytes;
}

// The bytes [first, last] of the file under `cid`, from verified blocks only.
function rebuild(blocks, cid, first, last, offset = 0, out = []) {
  const bytes = blocks.get(cid.toString());
  if (bytes === undefined) throw new Error(`block ${cid} is needed for bytes ${first}-${last} but was not sent`);
  if (cid.code === RAW_CODE) {
    out.push(bytes.subarray(Math.max(0, first - offset), Math.max(0, last - offset + 1)));
    return out;
  }
  const node = dagPb.decode(bytes);
  const file = UnixFS.unmarshal(node.Data);
  let start = offset;
  node.Links.forEach((link, index) => {
    const size = Number(file.blockSizes[index]);
    if (start + size - 1 >= first && start <= last) rebuild(blocks, link.Hash, first, last, start, out);
    start += size;
  });
  return out;
}

function fileSize(cid, bytes) {
  if (cid.code === RAW_CODE) return bytes.length;
  return Number(UnixFS.unmarshal(dagPb.decode(bytes).Data).fileSize());
}

async function verifyCar(gateway, cidText, query) {
  const root = CID.parse(cidText);
  const url = `${gateway}/ipfs/${cidText}?format=car${query ? "&" + query : ""}`;
  const response = await fetch(url, { headers: { accept: "application/vnd.ipld.car; version=1; order=dfs; dups=n" } });
  if (!response.ok) throw new Error(`gateway answered ${response.status}: ${await response.text()}`);
  const contentType = response.headers.get("content-type");
  const iterator = await CarBlockIterator.fromBytes(new Uint8Array(await response.arrayBuffer()));
  const roots = (await iterator.getRoots()).map(String);
  const blocks = new Map();
  const order = [];
  for await (const { cid, bytes } of iterator) {
    blocks.set(cid.toString(), await verifiedBlock(cid, bytes));
    order.push(cid.toString());
  }
  const result = { content_type: contentType, roots, blocks: order.length, order };
  if (blocks.has(root.toString())) {
    const size = fileSize(root, blocks.get(root.toString()));
    const range = new URLSearchParams(query ?? "").get("entity-bytes");
    let [first, last] = [0, size - 1];
    if (range) {
      const [from, to] = range.split(":");
      first = Number(from) < 0 ? Math.max(0, size + Number(from)) : Number(from);
      last = to === "*" ? size - 1 : Number(to) < 0 ? size + Number(to) : Math.min(Number(to), size - 1);
    }
    const scope = new URLSearchParams(query ?? "").get("dag-scope");
    if (scope !== "block") {
      const pieces = rebuild(blocks, root, first, last);
      const hash = createHash("sha256");
      let length = 0;
      for (const piece of pieces) {
        hash.update(piece);
        length += piece.length;
      }
      Object.assign(result, { size, first, last, rebuilt_bytes: length, rebuilt_sha256: hash.digest("hex") });
    }
  }
  return result;
}

async function verifyRaw(gateway, cidText) {
  const cid = CID.parse(cidText);
  const response = await fetch(`${gateway}/ipfs/${cidText}`, { headers: { accept: "application/vnd.ipld.raw" } });
  if (!response.ok) throw new Error(`gateway answered ${response.status}: ${await response.text()}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (cid.multihash.code === 0x00) {
    if (!equals(bytes, cid.multihash.digest)) throw new Error(`identity block ${cid} does not match`);
  } else {
    await verifiedBlock(cid, bytes);
  }
  return { content_type: response.headers.get("content-type"), bytes: bytes.length, verified: true };
}

const [mode, gateway, cid, query] = process.argv.slice(2);
const run = mode === "car" ? verifyCar(gateway, cid, query) : mode === "raw" ? verifyRaw(gateway, cid) : Promise.reject(new Error("usage: ipfs-verify.mjs car|raw GATEWAY CID [QUERY]"));
run.then(
  (result) => process.stdout.write(JSON.stringify(result) + "\n"),
  (error) => {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  },
);
