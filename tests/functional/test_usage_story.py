"""Use of a model pays the people behind it: the story through a real node and the CLI.

Ada and Ben hold one work 70/30; Cy holds another. Mo trains a base model on Cy's work,
Mia tunes it on Ada and Ben's, and Leo's app uses Mia's model. Both developers set
terms; Leo records 10,000 inference calls through the app and pays 30,000 credits, split
down the lineage: each person's statement shows the right credits to the unit, by
source. A use signed for less than it costs is refused with the reason and charges
nothing. Cy then re-uploads Ada's track re-encoded under a new name, and it is flagged
with Ada's asset in the upload's answer, the asset's record and the catalog. The whole
chain re-executes to the same state.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from node.fingerprint import fingerprint_file
from tests.node.clips import altered, music_clip, write_clip

from .framework import REPO, RpcError
from .helpers import make_wav
from .test_market_story import Cli

pytestmark = pytest.mark.slow


def test_use_of_a_model_pays_down_its_lineage(start_local_node, tmp_path):
    cli = Cli(tmp_path / "home")
    names = ("ada", "ben", "cy", "mo", "mia", "leo")
    people = {name: cli.json("key", "new", name)["did"] for name in names}
    node = start_local_node(allocations={people["leo"]: 40_000})
    cli.url = node.url
    roles = {"ada": "creator", "ben": "contributor", "cy": "creator", "mo": "model_developer", "mia": "model_developer",
             "leo": "app_developer,consumer"}
    for name in names:
        cli.json("register", "--name", name.title(), "--roles", roles[name], key=name)

    works = {}
    for name, seed, holders in [("ab", 4, [f"{people['ada']}=7000", f"{people['ben']}=3000"]), ("cy", 5, [f"{people['cy']}=10000"])]:
        path = tmp_path / f"{name}.wav"
        path.write_bytes(make_wav(1.0, seed=seed))
        options = [option for holder in holders for option in ("--holder", holder)]
        works[name] = cli.json("upload", str(path), "--title", f"Work {name}", "--allow", "ai_training", *options,
                               key="ada" if name == "ab" else "cy")["asset"]
    base = cli.json("model", "register", "--name", "base", "--version", "1", "--asset", works["cy"], key="mo")["model"]
    tuned = cli.json("model", "register", "--name", "tuned", "--version", "1", "--base", base, "--asset", works["ab"], key="mia")["model"]
    app = cli.json("app", "register", "--name", "radio", "--version", "1", "--model", tuned, key="leo")["app"]
    assert cli.json("model", "terms", tuned)["terms"]["since"] is None
    cli.json("model", "terms", base, "--per-use", "ai_inference=1", "--training-share", "50", "--derivative-share", "20", key="mo")
    set_terms = cli.json("model", "terms", tuned, "--per-use", "ai_inference=3", "--training-share", "40", key="mia")
    assert set_terms["event"]["status"] == "final"
    shown = cli.json("model", "terms", tuned)["terms"]
    assert shown["purposes"]["ai_inference"] == {"mode": "per_use", "price": 3} and shown["training_share_bps"] == 4_000
    assert "training share" in cli.run("model", "terms", tuned).stdout

    # An over-price use is refused with the reason, and charges nothing.
    cli.refused("usage", "record", app, "--count", "10000", "--purpose", "ai_inference", "--max-price", "29999", key="leo",
                says="more than the max_price of 29999")
    assert node.get(f"/v1/accounts/{people['leo']}")["account"]["balance"] == 40_000

    used = cli.json("usage", "record", app, "--count", "10000", "--purpose", "ai_inference", key="leo")
    assert used["price"] == used["max_price"] == 30_000 and used["event"]["status"] == "final"

    # Tuned: 20% to the base (6,000), 40% to Ada/Ben's work (12,000: 8,400 / 3,600), Mia 12,000.
    # Base: 50% of 6,000 to Cy's work (3,000), Mo 3,000.
    expected = {"ada": 8_400, "ben": 3_600, "cy": 3_000, "mo": 3_000, "mia": 12_000}
    for name, credits in expected.items():
        statement = cli.json("royalties", key=name)
        assert statement["by_source"] == {"purchases": 0, "accesses": 0, "lineage": credits}, name
        [item] = statement["lineage"]["items"]
        assert (item["kind"], item["id"], item["units"], item["revenue"]) == ("app", app, 10_000, credits)
        assert statement["balance"] == credits
    assert node.get(f"/v1/accounts/{people['leo']}")["account"]["balance"] == 10_000
    assert "lineage income" in cli.run("royalties", key="ada").stdout

    paid = cli.json("royalties", "--asset", works["ab"], key="ada")["paid_through"]
    assert [(item["id"], item["revenue"]) for item in paid["items"]] == [(app, 12_000)]
    assert [(i["id"], i["revenue"]) for i in cli.json("lineage", works["cy"])["paid_through"]["items"]] == [(app, 3_000)]
    assert cli.json("lineage", app)["usage"] == {"uses": 1, "units": 10_000, "revenue": 30_000}
    shown_usage = cli.json("usage", "show", app)
    assert shown_usage["totals"]["revenue"] == 30_000 and len(shown_usage["days"]) == 1
    assert "recorded use: 10000 units" in cli.run("lineage", app).stdout

    # Cy re-uploads Ada's track under a new name: re-encoded to MP3, 3 s trimmed, 2 dB louder.
    recording = music_clip(7, 15.0)
    write_clip(tmp_path / "ada-track.wav", recording)
    (tmp_path / "new-name.mp3").write_bytes(altered(recording, trim_s=3.0, gain_db=2.0, format="MP3"))
    ada_track = cli.json("upload", str(tmp_path / "ada-track.wav"), "--title", "Ada's track", key="ada")
    assert ada_track["content"]["possible_reupload_of"] is None and ada_track["content"]["fingerprint"]
    copy = cli.json("upload", str(tmp_path / "new-name.mp3"), "--title", "Totally new", key="cy")
    flagged = copy["content"]["possible_reupload_of"]
    assert flagged["asset"] == ada_track["asset"] and flagged["title"] == "Ada's track" and flagged["score_bps"] >= 6_500
    record = node.get(f"/v1/assets/{copy['asset']}")["asset"]["reupload_of"]
    assert record["asset"] == ada_track["asset"]
    [hit] = cli.json("search", "--creator", people["cy"], "--type", "track", "Totally")["items"]
    assert hit["reupload_of"]["asset"] == ada_track["asset"]
    assert "likely re-upload of" in cli.run("asset", "show", copy["asset"]).stdout

    # The RPC refuses bad input with the reason, never a 500.
    (tmp_path / "third.flac").write_bytes(altered(recording, trim_s=1.5, gain_db=1.0, format="FLAC"))
    third = fingerprint_file(tmp_path / "third.flac")
    match = node.request("POST", "/v1/fingerprints/match", body=third, content_type="application/octet-stream")["match"]
    assert match["asset"] in (ada_track["asset"], copy["asset"]) and match["score_bps"] >= 6_500
    for method, path, body, content_type, status in [
        ("POST", "/v1/fingerprints/match", b"\x00" * 6, "application/octet-stream", 400),
        ("POST", "/v1/fingerprints/match", b"\x00" * 8, "application/json", 415),
        ("GET", f"/v1/usage/{app}/quote?purpose=karaoke&count=1", None, None, 400),
        ("GET", f"/v1/usage/{app}/quote?purpose=ai_inference&count=0", None, None, 400),
        ("GET", f"/v1/usage/{app}/quote?purpose=data_mining&count=1", None, None, 409),
        ("GET", f"/v1/usage/{'00' * 32}", None, None, 404),
        ("GET", f"/v1/models/{app}/terms", None, None, 404),
        ("GET", f"/v1/royalties/{people['ada']}/lineage?from=2030-01-02&to=2030-01-01", None, None, 400),
    ]:
        with pytest.raises(RpcError) as refused:
            node.request(method, path, body=body, content_type=content_type)
        assert refused.value.status == status and refused.value.body["error"]["message"], (path, refused.value)

    # The whole chain re-executes to the same state and indexes.
    assert node.stop() == 0
    verified = subprocess.run(
        [sys.executable, "-m", "node.main", "verify", "--config", str(node.config)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert verified.returncode == 0 and "consistent" in verified.stdout, verified.stdout + verified.stderr
