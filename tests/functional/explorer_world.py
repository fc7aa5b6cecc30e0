"""A small data market on a real node, for the explorer's views to show: two people's recording
(split 70/30), its terms changed, a license bought, a logged access, a model trained on it
and an app on the model."""

from __future__ import annotations

from dataclasses import dataclass, replace

from protocol.events import (
    Access, AppRegister, AssetTerms, LicensePurchase, ManifestEntry, ModelRegister, ParticipantRegister, manifest_leaf,
)
from protocol.keys import SigningKey
from protocol.merkle import merkle_root
from protocol.terms import ALLOWED, PURCHASE, Terms

from .framework import NodeProcess
from .helpers import Client, asset_body, make_wav

MIA_SEED = bytes([7]) * 32
MIA_CREDITS = 1000
PRICE = 5


@dataclass(frozen=True)
class World:
    ada: Client
    ben: Client
    mia: Client
    leo: Client
    asset: str
    license: str
    access: str
    model: str
    app: str


def allocations() -> dict[str, int]:
    return {SigningKey(MIA_SEED).did: MIA_CREDITS}


def build_world(node: NodeProcess) -> World:
    ada, ben, mia, leo = Client(node), Client(node), Client(node, SigningKey(MIA_SEED)), Client(node)
    for client, name, roles in [
        (ada, "Ada Tone", ("creator",)), (ben, "Ben Bass", ("contributor",)),
        (mia, "Mia Model", ("model_developer",)), (leo, "Leo Apps", ("app_developer",)),
    ]:
        last = client.send(ParticipantRegister(name, roles))
    node.wait_final(last)
    upload = ada.upload(make_wav(2.0, seed=5))
    cid = upload["cid"]
    body = replace(
        asset_body(upload, ada.did, title="First light", holders=[(ada.did, 7000), (ben.did, 3000)]),
        terms=Terms.make({"ai_training": (PURCHASE, PRICE), "data_mining": (ALLOWED, 0)}),
    )
    node.wait_final(ada.send(body))
    node.wait_final(ada.send(AssetTerms(cid, Terms.make({"ai_training": (PURCHASE, PRICE), "data_mining": (ALLOWED, 0)}, commercial=True))))
    license_id = mia.send(LicensePurchase(cid, ("ai_training",), PRICE))
    node.wait_final(license_id)
    node_id = node.get("/v1/status")["node_id"]
    access_id = mia.send(Access(cid, "ai_training", None, None, node_id, upload["size"], max_price=0))
    node.wait_final(access_id)
    entries = (ManifestEntry(cid, bytes.fromhex(license_id)),)
    model = mia.send(ModelRegister("tune-gen", "1.0", None, entries, merkle_root([manifest_leaf(e) for e in entries])))
    node.wait_final(model)
    app = leo.send(AppRegister("Beat Buddy", "2.1", (bytes.fromhex(model),)))
    node.wait_final(app)
    return World(ada, ben, mia, leo, cid, license_id, access_id, model, app)
