"""The data market's story through a real node and the CLI, as the README tells it.

A creator (Ada) and a contributor (Ben) upload two works, each split 70/30 between
them, under different terms. A model developer (Mia) searches, checks the bill of
materials, buys training licenses, fetches both works (each download a logged access),
and registers a model; an application developer (Leo) registers an app on it. The
app's lineage names both recordings and both people; the royalty statements show the
split to the credit. Then every way to be refused: no license, a purpose the license
does not cover, a revoked and an expired license, a model naming an unlicensed asset;
each says why and leaves no access on record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from protocol.unixfs import root_cid_of_file

from .framework import REPO, wait_until
from .helpers import make_wav

pytestmark = pytest.mark.slow


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.url = ""

    def run(self, *args: str, key: str | None = None, ok: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "AUDIERA_HOME": str(self.home), "AUDIERA_PASSWORD": "correct horse battery staple", "AUDIERA_NODE": self.url}
        argv = [sys.executable, "-m", "node.cli.main", *(["--key", key] if key else []), *args]
        result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        if ok:
            assert result.returncode == 0, f"audiera {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def json(self, *args: str, key: str | None = None) -> dict:
        return json.loads(self.run("--json", *args, key=key).stdout)

    def refused(self, *args: str, key: str, says: str) -> str:
        result = self.run(*args, key=key, ok=False)
        assert result.returncode == 1, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("audiera: ") and "Traceback" not in result.stderr, result.stderr
        assert says in lines[0], lines[0]
        return lines[0]


def accesses_of(node, cid: str) -> int:
    return sum(1 for item in node.get(f"/v1/assets/{cid}?limit=1000")["history"]["items"] if item["event"]["kind"] == "access")


def test_the_data_market_story(start_local_node, tmp_path):
    cli = Cli(tmp_path / "home")
    people = {name: cli.json("key", "new", name)["did"] for name in ("ada", "ben", "mia", "leo")}
    ada, ben, mia, leo = (people[name] for name in ("ada", "ben", "mia", "leo"))
    node = start_local_node(allocations={mia: 1_000, leo: 100})
    cli.url = node.url
    for name, roles in [("ada", "creator"), ("ben", "contributor"), ("mia", "model_developer,consumer"), ("leo", "app_developer,consumer")]:
        cli.json("register", "--name", name.title(), "--roles", roles, key=name)

    # --- a creator and a contributor register works, 70/30, under different terms ------
    files = {}
    for name, seed in [("light", 1), ("drone", 2), ("private", 3)]:
        files[name] = tmp_path / f"{name}.wav"
        files[name].write_bytes(make_wav(1.0, seed=seed))
    light = cli.json(
        "upload", str(files["light"]), "--title", "First light", "--genre", "ambient", "--tags", "calm,piano",
        "--description", "Morning piano over tape hiss", "--holder", f"{ada}=7000", "--holder", f"{ben}=3000",
        "--price", "ai_training=10", "--allow", "data_mining", key="ada",
    )["asset"]
    drone = cli.json(
        "upload", str(files["drone"]), "--title", "Low drone", "--type", "stem", "--genre", "ambient", "--tags", "drone",
        "--holder", f"{ben}=7000", "--holder", f"{ada}=3000", "--price", "ai_training=6", "--per-access", "ai_inference=1",
        key="ben",
    )["asset"]
    private = cli.json("upload", str(files["private"]), "--title", "Not for training", "--genre", "ambient", key="ada")["asset"]

    # --- a model developer finds them, checks the bill of materials, buys ---------------
    hits = cli.json("search", "piano", "--allows", "ai_training", "--max-price", "10", key="mia")["items"]
    assert [hit["id"] for hit in hits] == [light]
    ambient = cli.json("search", "--genre", "Ambient", "--allows", "ai_training", key="mia")["items"]
    assert {hit["id"] for hit in ambient} == {light, drone}, "the private track denies training"
    assert [h["id"] for h in cli.json("search", "--creator", ben, "--type", "stem", key="mia")["items"]] == [drone]
    bom = cli.json("preflight", "--purpose", "ai_training", light, drone, private, key="mia")
    assert [item["status"] for item in bom["items"]] == ["purchase", "purchase", "denied"]
    assert bom["summary"]["purchase_total"] == 16
    assert {c["name"] for c in bom["items"][0]["attribution"]["credit"]} == {"Ada", "Ben"}
    assert "preflight for ai_training" in cli.run("preflight", "--purpose", "ai_training", light, drone, key="mia").stdout

    license_light = cli.json("license", "buy", light, "--purpose", "ai_training", key="mia")
    assert license_light["price"] == 10 and license_light["event"]["status"] == "final"
    cli.json("license", "buy", drone, "--purpose", "ai_training", key="mia")

    # --- fetch: every download is a logged access; the bytes are the asset's ---------------
    for cid, name in [(light, "light"), (drone, "drone")]:
        out = tmp_path / f"mia-{name}.wav"
        fetched = cli.json("fetch", cid, "--purpose", "ai_training", "-o", str(out), key="mia")
        assert node.get(f"/v1/events/{fetched['access']}")["status"] == "final" and out.read_bytes() == files[name].read_bytes()
        assert root_cid_of_file(out) == cid and fetched["shares_used"] == [1]  # one authority: k = 1
        releases = node.get(f"/v1/access/{fetched['access']}/releases")
        assert releases["final"] and releases["threshold"] == 1 and len(releases["releases"]) == 1
    assert accesses_of(node, light) == accesses_of(node, drone) == 1
    history = node.get(f"/v1/assets/{light}?limit=100")["history"]["items"]
    assert [item["key_releases"] for item in history if item["event"]["kind"] == "access"] == [1]
    # A rights holder opens its own asset with its sealed copy of the key; others cannot.
    opened = cli.json("asset", "open", light, "-o", str(tmp_path / "ben-light.wav"), key="ben")
    assert (tmp_path / "ben-light.wav").read_bytes() == files["light"].read_bytes() and opened["access"] is None
    cli.refused("asset", "open", light, "-o", str(tmp_path / "x"), key="mia", says="holds no copy of this asset's key")
    # The node keeps only sealed bytes: the plain audio is nowhere in its data directory.
    needle = files["light"].read_bytes()[4096:4160]
    for stored in (tmp_path / "net" / "node0").rglob("*"):
        assert not stored.is_file() or needle not in stored.read_bytes(), f"plain audio in {stored}"
    for person, accesses in [(mia, 2), (ada, 2), (ben, 2)]:  # the consumer's activity, and each holder's
        activity = node.get(f"/v1/accounts/{person}?limit=100")["activity"]["items"]
        assert [item["event"]["kind"] for item in activity].count("access") == accesses

    # --- the model and the app; lineage names both works and both people -----------------
    model = cli.json("model", "register", "--name", "ambient-gen", "--version", "1.0", "--asset", light, "--asset", drone, key="mia")
    assert all(entry["license"] for entry in model["manifest"]), "the CLI found Mia's licenses"
    model_id = model["model"]
    app_id = cli.json("app", "register", "--name", "calm-radio", "--version", "0.1", "--model", model_id, key="leo")["app"]
    lineage = cli.json("lineage", app_id, key="leo")
    assert {item["asset"] for item in lineage["assets"]["items"]} == {light, drone}
    assert {(p["name"], p["assets"]) for p in lineage["people"]} == {("Ada", 2), ("Ben", 2)}
    human = cli.run("lineage", app_id).stdout
    assert "First light" in human and "Low drone" in human and "Ada" in human and "Ben" in human
    assert [m["id"] for m in cli.json("lineage", light)["models"]] == [model_id]
    assert [a["id"] for a in cli.json("lineage", ada)["apps"]] == [app_id]

    # --- proofs: in and not in the manifest, checked against the header, also offline -----
    proof_file = tmp_path / "proof.json"
    member = cli.json("model", "prove", model_id, light, "-o", str(proof_file))
    assert member["present"] is True and member["proof"] == "valid"
    absent = cli.json("model", "prove", model_id, private)
    assert absent["present"] is False and absent["proof"] == "valid"
    offline = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "--node", "http://127.0.0.1:9", "--json", "model", "verify", str(proof_file)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert offline.returncode == 0 and json.loads(offline.stdout)["present"] is True, offline.stderr
    forged = json.loads(proof_file.read_text())
    forged["leaves"][0]["entry"]["asset"] = private
    proof_file.write_text(json.dumps(forged))
    assert "proof: INVALID" in cli.run("model", "verify", str(proof_file), ok=False).stderr

    # --- royalties: the 70/30 split to the credit ---------------------------------------
    # light: 10 -> Ada 7, Ben 3. drone: 6 -> Ben 4.2, Ada 1.8 -> Ben 4, Ada 1, and the
    # remaining credit to the larger fraction (Ada's .8): Ben 4, Ada 2.
    statements = {name: cli.json("royalties", key=name) for name in ("ada", "ben")}
    rows = {name: {item["asset"]: item for item in s["items"]} for name, s in statements.items()}
    assert (rows["ada"][light]["revenue"], rows["ada"][drone]["revenue"]) == (7, 2)
    assert (rows["ben"][light]["revenue"], rows["ben"][drone]["revenue"]) == (3, 4)
    assert (rows["ada"][light]["share_bps"], rows["ben"][light]["share_bps"]) == (7000, 3000)
    assert rows["ada"][light]["accesses"] == {"ai_training": 1} and rows["ada"][light]["purchases"] == 1
    assert statements["ada"]["balance"] == statements["ada"]["totals"]["revenue"] == 9
    assert statements["ben"]["balance"] == 7
    assert node.get(f"/v1/accounts/{mia}")["account"]["balance"] == 984
    assert "royalty statement of Ada" in cli.run("royalties", key="ada").stdout
    usage = cli.json("royalties", "--asset", light, key="ada")
    assert usage["totals"]["total_accesses"] == 1 and usage["totals"]["revenue"] == 10

    # --- refusals, each with its reason and no access on record ----------------------------
    before = {cid: accesses_of(node, cid) for cid in (light, drone)}
    cli.refused("fetch", light, "--purpose", "ai_training", "-o", str(tmp_path / "x"), key="leo",
                says="no license in force for ai_training")
    cli.refused("fetch", light, "--purpose", "ai_generative_training", "-o", str(tmp_path / "x"), key="mia",
                says="covers only ai_training")
    grant = cli.json("license", "grant", light, "--to", leo, "--purpose", "ai_inference", key="ada")["license"]
    cli.json("fetch", light, "--purpose", "ai_inference", "--app", app_id, "-o", str(tmp_path / "leo.wav"), key="leo")
    cli.json("license", "revoke", grant, key="ben")
    cli.refused("fetch", light, "--purpose", "ai_inference", "-o", str(tmp_path / "x"), key="leo", says="was revoked at block")
    soon = int(time.time() * 1000) + 1_500
    expiring = cli.json("license", "grant", drone, "--to", leo, "--purpose", "data_mining", "--expires", str(soon), key="ben")["license"]
    wait_until(lambda: node.get("/v1/status")["head_time"] > soon, timeout=20, what="block time to pass the expiry")
    cli.refused("fetch", drone, "--purpose", "data_mining", "-o", str(tmp_path / "x"), key="leo", says=f"license {expiring} expired")
    cli.refused("model", "register", "--name", "leaky", "--version", "1", "--asset", light, "--asset", private, key="mia",
                says=f"asset {private} is not licensed to {mia} for training")
    assert not (tmp_path / "x").exists()
    assert {cid: accesses_of(node, cid) for cid in (light, drone)} == {light: before[light] + 1, drone: before[drone]}

    # Per-access terms charge each access: Leo pays 1 credit to use the stem for inference.
    cli.json("fetch", drone, "--purpose", "ai_inference", "-o", str(tmp_path / "leo-drone.wav"), key="leo")
    assert node.get(f"/v1/accounts/{leo}")["account"]["balance"] == 99
    ben_rows = {item["asset"]: item for item in cli.json("royalties", key="ben")["items"]}
    assert ben_rows[drone]["revenue"] == 5 and ben_rows[drone]["paid_accesses"] == 1

    # The whole chain re-executes to the same state and indexes.
    assert node.stop() == 0
    verified = subprocess.run(
        [sys.executable, "-m", "node.main", "verify", "--config", str(node.config)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert verified.returncode == 0 and "consistent" in verified.stdout, verified.stdout + verified.stderr
