"""The FirstPromoter stand-in serves FirstPromoter's documented v2 shapes and behaviour.

Objects are validated against FirstPromoter's own OpenAPI v2 specs (resolving `$ref`s inside each
spec file); `nullable: true` is honoured, and every field the stand-in sends must be declared.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from sandbox.fp_seed import COMMISSION_AMOUNT, SALE_AMOUNT, seed_firstpromoter
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.scenarios import (
    FP_ACCOUNT_ID,
    FP_API_KEY,
    PC_ANA,
    PC_BEN,
    PC_CLEO,
    PC_DAN,
    PC_EVE,
    PROMOTER_CAMPAIGN_COUPONS,
    SCENARIOS,
    by_name,
)

# FirstPromoter's specs carry no licence, so they are read from the shared reference folder beside
# the checkout (CI has it there) rather than copied into the repository.
SPECS = Path(
    os.environ.get(
        "FPCHECK_FP_SPECS",
        Path(__file__).resolve().parents[2] / "shared" / "reference" / "firstpromoter" / "openapi-v2",
    )
)
NOW = 1_790_000_000.0  # a fixed "now" so timestamps are predictable
DAY = 86_400.0
AUTH = {"Authorization": f"Bearer {FP_API_KEY}", "ACCOUNT-ID": FP_ACCOUNT_ID}


@pytest.fixture
def fp() -> Iterator[FirstPromoterStandIn]:
    standin = FirstPromoterStandIn()
    seed_firstpromoter(standin, now=NOW)
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


def get(fp: FirstPromoterStandIn, path: str, headers: dict[str, str] | None = None, **params: Any) -> requests.Response:
    return requests.get(f"{fp.url}/api/v2/company{path}", params=params,
                        headers=AUTH if headers is None else headers, timeout=5)


# ---------------------------------------------------------------------- the specs


def load_spec(name: str) -> dict[str, Any]:
    path = SPECS / f"openapi-v2-{name}.json"
    if not path.exists():
        pytest.skip(f"FirstPromoter OpenAPI spec not found at {path} (set FPCHECK_FP_SPECS)")
    return json.loads(path.read_text())


def _nullable_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` -> JSON Schema `type: [T, "null"]` (and null in an enum)."""
    if isinstance(node, list):
        return [_nullable_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_json_schema(v) for k, v in node.items()}
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def schema_for(spec: dict[str, Any], pointer: str, *, also_nullable: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON Schema for `pointer` (e.g. `#/components/schemas/Referral`) with the spec as root, so
    `$ref`s resolve within the file.  `also_nullable`: property names allowed to be null anyway."""
    root = _nullable_to_json_schema(copy.deepcopy(spec))
    if also_nullable:
        def relax(node: Any) -> None:
            if isinstance(node, dict):
                for name, prop in (node.get("properties") or {}).items():
                    if name in also_nullable and isinstance(prop.get("type"), str):
                        prop["type"] = [prop["type"], "null"]
                for v in node.values():
                    relax(v)
            elif isinstance(node, list):
                for v in node:
                    relax(v)
        relax(root)
    return {**root, "$ref": pointer}


def validate(instance: Any, schema: dict[str, Any]) -> None:
    errors = sorted(Draft202012Validator(schema).iter_errors(instance), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def undeclared(instance: Any, schema: dict[str, Any], root: dict[str, Any], at: str = "") -> list[str]:
    """Fields the instance carries that the spec does not declare (typos in the stand-in)."""
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    found: list[str] = []
    if isinstance(instance, dict) and "properties" in schema:
        props = schema["properties"]
        for key, value in instance.items():
            if key not in props:
                found.append(f"{at}.{key}")
            else:
                found += undeclared(value, props[key], root, f"{at}.{key}")
    elif isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            found += undeclared(item, schema["items"], root, f"{at}[{i}]")
    return found


def assert_matches(instance: Any, spec: dict[str, Any], pointer: str, **kw: Any) -> None:
    schema = schema_for(spec, pointer, **kw)
    validate(instance, schema)
    extra = undeclared(instance, schema, schema)
    assert not extra, f"fields the spec does not declare: {extra}"


ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def timestamps(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.endswith("_at") or k in ("customer_since", "joined_at"):
                if v is not None:
                    yield v
            else:
                yield from timestamps(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from timestamps(v)


# ---------------------------------------------------------------------- shapes


def test_healthy_referral_promoter_campaign_and_commission_match_the_specs_strictly(fp):
    referral = get(fp, "/referrals/healthy%40example.com", find_by="email").json()
    assert_matches(referral, load_spec("referrals"), "#/components/schemas/Referral")
    assert referral["promoter_campaign"]["promoter"] == {
        "id": 2001, "email": "ana@promoters.example", "name": "Ana Promoter"}
    assert set(referral["promoter_campaign"]) == {"id", "campaign_id", "promoter_id", "created_at",
                                                  "promoter", "campaign"}
    assert set(referral["promoter_campaign"]["campaign"]) == {"id", "name", "color"}

    campaigns = get(fp, "/promoter_campaigns", per_page=100).json()
    ana = next(pc for pc in campaigns if pc["id"] == PC_ANA)
    assert_matches(ana, load_spec("promoter-campaigns"), "#/components/schemas/PromoterCampaign")

    (commission,) = get(fp, "/commissions", q="in_DemoHealthy01").json()
    assert_matches(commission, load_spec("commissions"), "#/components/schemas/Commission")
    assert commission["referral"] == {"id": referral["id"], "email": "healthy@example.com",
                                      "uid": "cus_DemoHealthy01"}


def test_every_listed_object_matches_its_spec(fp):
    # FirstPromoter's docs do not say what an absent uid or coupon looks like; the stand-in sends
    # null, so only those fields are allowed to be null beyond what the specs mark nullable.
    referrals = get(fp, "/referrals", per_page=100).json()
    assert isinstance(referrals, list) and len(referrals) > 15
    spec = load_spec("referrals")
    for r in referrals:
        assert_matches(r, spec, "#/components/schemas/Referral", also_nullable=("uid",))

    spec = load_spec("promoter-campaigns")
    for page in (1, 2):
        for pc in get(fp, "/promoter_campaigns", per_page=100, page=page).json():
            assert_matches(pc, spec, "#/components/schemas/PromoterCampaign",
                           also_nullable=("coupon", "display_coupon"))

    spec = load_spec("commissions")
    commissions = get(fp, "/commissions", per_page=100).json()
    assert len(commissions) >= 4
    for c in commissions:
        assert_matches(c, spec, "#/components/schemas/Commission", also_nullable=("uid",))

    for obj in (*referrals, *commissions):
        for ts in timestamps(obj):
            assert ISO_Z.match(ts), ts
            datetime.fromisoformat(ts)


def test_promoters_list_is_the_data_meta_envelope_and_get_matches_the_spec(fp):
    spec = load_spec("promoters")
    body = get(fp, "/promoters", per_page=5).json()
    list_schema = spec["paths"]["/promoters"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    validate(body, {**_nullable_to_json_schema(spec), **_nullable_to_json_schema(list_schema)})
    assert set(body) == {"data", "meta"} and len(body["data"]) == 5
    assert body["meta"] == {"pending_count": 0}
    for p in body["data"]:
        if p["id"] == 2001:
            assert_matches(p, spec, "#/components/schemas/PromoterListItem")

    ana = get(fp, "/promoters/2001").json()
    assert_matches(ana, spec, "#/components/schemas/Promoter")
    assert ana["promoter_campaigns"][0]["coupon"] == "ANA20"
    by_email = get(fp, "/promoters/ana%40promoters.example", find_by="email").json()
    assert by_email["id"] == 2001


def test_promoter_find_by_email_miss_is_the_documented_422(fp):
    resp = get(fp, "/promoters/nobody%40example.com", find_by="email")
    assert resp.status_code == 422
    assert resp.json() == {"message": "Cannot find promoter by email", "code": "invalid_params"}
    assert get(fp, "/promoters/999999").json() == {"message": "Record not found", "code": "not_found"}


# ---------------------------------------------------------------------- auth and refusals


def test_missing_or_wrong_or_revoked_key_is_401_without_a_body(fp):
    for headers in (
        {"ACCOUNT-ID": FP_ACCOUNT_ID},
        {"Authorization": "Bearer wrong", "ACCOUNT-ID": FP_ACCOUNT_ID},
        {"Authorization": FP_API_KEY, "ACCOUNT-ID": FP_ACCOUNT_ID},  # no Bearer scheme
        {"Authorization": f"Bearer {FP_API_KEY}"},  # the key alone is not enough
    ):
        resp = get(fp, "/referrals", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.content == b""
    fp.revoke(FP_API_KEY)
    assert get(fp, "/referrals").status_code == 401


def test_account_header_name_is_case_insensitive_and_an_unknown_account_is_404(fp):
    for name in ("ACCOUNT-ID", "Account-ID", "account-id"):
        headers = {"Authorization": f"Bearer {FP_API_KEY}", name: FP_ACCOUNT_ID}
        assert get(fp, "/referrals", headers=headers).status_code == 200
    resp = get(fp, "/referrals", headers={"Authorization": f"Bearer {FP_API_KEY}", "ACCOUNT-ID": "acc_other"})
    assert resp.status_code == 404
    assert resp.json() == {"message": "Record not found", "code": "not_found"}


def test_forbid_answers_the_documented_403(fp):
    fp.forbid(r"/commissions")
    resp = get(fp, "/commissions")
    assert resp.status_code == 403
    body = resp.json()
    assert body == {"message": "You don't have enough rights to perform this action", "code": "forbidden"}
    validate(body, schema_for(load_spec("promoter-campaigns"), "#/components/schemas/Error"))
    assert get(fp, "/referrals").status_code == 200


def test_rate_limit_answers_429_without_retry_after():
    standin = FirstPromoterStandIn(rate_limit_per_minute=3)
    with standin:
        codes = [get(standin, "/referrals").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        last = get(standin, "/referrals")
        assert "Retry-After" not in last.headers


def test_writes_are_recorded_and_answered_404(fp):
    base = f"{fp.url}/api/v2/company"
    for method, path in (("POST", "/referrals"), ("PUT", "/referrals/5001"), ("DELETE", "/referrals"),
                         ("POST", "/referrals/5001/import_events"), ("POST", "/commissions/approve")):
        resp = requests.request(method, base + path, headers=AUTH, json={"email": "x@example.com"}, timeout=5)
        assert resp.status_code == 404, (method, path)
    assert [(r.method, r.path.removeprefix("/api/v2/company")) for r in fp.calls()] == [
        ("POST", "/referrals"), ("PUT", "/referrals/5001"), ("DELETE", "/referrals"),
        ("POST", "/referrals/5001/import_events"), ("POST", "/commissions/approve")]
    assert get(fp, "/referrals/5001").json()["email"] == "healthy@example.com"  # nothing changed


# ---------------------------------------------------------------------- lookups, search, paging


def test_find_by_email_uid_username_and_numeric_id(fp):
    plus = fp.add_referral("jane+promo@example.com", uid="cus_Plus0001", username="jane_p",
                           promoter_campaign_id=PC_ANA)
    assert get(fp, "/referrals/jane%2Bpromo%40example.com", find_by="email").json()["id"] == plus
    assert get(fp, "/referrals/cus_Plus0001", find_by="uid").json()["id"] == plus
    assert get(fp, "/referrals/jane_p", find_by="username").json()["id"] == plus
    assert get(fp, f"/referrals/{plus}").json()["email"] == "jane+promo@example.com"
    # find_by=email is exact by default (letter case unknown upstream)
    assert get(fp, "/referrals/JANE%2Bpromo%40example.com", find_by="email").status_code == 404


def test_find_by_miss_is_404_by_default_and_422_when_configured(fp):
    resp = get(fp, "/referrals/nobody%40example.com", find_by="email")
    assert resp.status_code == 404
    assert get(fp, "/referrals/not-a-number").status_code == 404
    other = FirstPromoterStandIn(find_by_miss_status=422, email_case_sensitive=False)
    seed_firstpromoter(other, now=NOW)
    with other:
        resp = get(other, "/referrals/nobody%40example.com", find_by="email")
        assert resp.status_code == 422 and resp.json()["code"] == "invalid_params"
        assert get(other, "/referrals/HEALTHY%40example.com", find_by="email").json()["id"] == 5001


def test_referral_search_filters_and_paging(fp):
    hits = get(fp, "/referrals", q="CASE@example.com").json()
    assert sorted(r["email"] for r in hits) == ["case@example.com", "showcase@example.com"]
    assert [r["uid"] for r in get(fp, "/referrals", q="user_4821").json()] == ["user_4821"]
    assert len(get(fp, "/referrals").json()) == 20  # default per_page
    everything = get(fp, "/referrals", per_page=1000).json()  # capped at 100
    assert len(everything) == sum(s.referral for s in SCENARIOS) + 3
    pending = get(fp, "/referrals", **{"filters[state]": "pending"}).json()
    assert [r["email"] for r in pending] == ["pending@example.com"]
    customers = get(fp, "/referrals", per_page=100, **{"filters[type]": "customer"}).json()
    converted = sum(s.referral and s.referral_state == "active" for s in SCENARIOS) + 2  # + 2 noise customers
    assert all(r["customer_since"] for r in customers) and len(customers) == converted >= 4
    leads = get(fp, "/referrals", per_page=100, **{"filters[type]": "lead"}).json()
    assert len(leads) + len(customers) == len(everything)
    picked = get(fp, "/referrals", **{"ids[]": ["5001", "5002"]}).json()
    assert [r["id"] for r in picked] == [5001, 5002]
    page2 = get(fp, "/referrals", per_page=5, page=2).json()
    assert [r["id"] for r in page2] == [r["id"] for r in everything[5:10]]
    assert get(fp, "/referrals", per_page=100, page=9).json() == []


def test_promoter_campaigns_take_two_pages_of_100(fp):
    first = get(fp, "/promoter_campaigns", per_page=100, page=1).json()
    second = get(fp, "/promoter_campaigns", per_page=100, page=2).json()
    assert len(first) == 100 and 0 < len(second) < 100
    ids = [pc["id"] for pc in first + second]
    assert len(set(ids)) == len(ids) == 134


def test_commission_search_by_event_id_email_and_uid(fp):
    by_event = get(fp, "/commissions", q="ch_DemoOneTime01").json()
    assert [c["event_id"] for c in by_event] == ["ch_DemoOneTime01"]
    assert [c["event_id"] for c in get(fp, "/commissions", q="healthy@example.com").json()] == ["in_DemoHealthy01"]
    assert [c["event_id"] for c in get(fp, "/commissions", q="cus_DemoHealthy01").json()] == ["in_DemoHealthy01"]
    assert get(fp, "/commissions", q="in_DemoMissComm01").json() == []


# ---------------------------------------------------------------------- the seed


def test_seed_builds_every_scenarios_firstpromoter_side(fp):
    for s in SCENARIOS:
        resp = get(fp, f"/referrals/{requests.utils.quote(s.email, safe='')}", find_by="email")
        if not s.referral:
            assert resp.status_code == 404, s.name
            continue
        r = resp.json()
        assert r["uid"] == s.referral_uid, s.name
        assert r["state"] == s.referral_state, s.name
        assert r["entry_source"] == s.entry_source, s.name
        assert r["promoter_campaign"]["id"] == s.promoter_campaign_id, s.name
        assert (r["customer_since"] is not None) == (s.referral_state == "active"), s.name
        commissions = [c for c in get(fp, "/commissions", per_page=100).json()
                       if c["referral"] and c["referral"]["id"] == r["id"]]
        if s.commission_event_id:
            (c,) = commissions
            assert (c["event_id"], c["status"], c["fraud_check"], c["amount"], c["sale_amount"]) == (
                s.commission_event_id, s.commission_status, s.commission_fraud_check, COMMISSION_AMOUNT,
                SALE_AMOUNT), s.name
        else:
            assert commissions == [], s.name

    healthy = get(fp, "/referrals/healthy%40example.com", find_by="email").json()
    since = datetime.fromisoformat(healthy["customer_since"])
    assert since == datetime.fromtimestamp(NOW - 3 * DAY, UTC)
    assert by_name("no-referral").referral is False


def test_seed_promoter_campaign_coupons(fp):
    pcs = {pc["id"]: pc for page in (1, 2)
           for pc in get(fp, "/promoter_campaigns", per_page=100, page=page).json()}
    for pcid, coupon in PROMOTER_CAMPAIGN_COUPONS.items():
        assert pcs[pcid]["coupon"] == coupon
    assert {pcid: pcs[pcid]["display_coupon"] for pcid in (PC_ANA, PC_BEN, PC_CLEO, PC_DAN, PC_EVE)} == {
        PC_ANA: "ANA20OFF", PC_BEN: "PARTNER20", PC_CLEO: "SHARED10", PC_DAN: "SHARED10", PC_EVE: "EVE15"}
    assert [pcs[p]["promoter"]["name"] for p in (PC_ANA, PC_BEN, PC_CLEO, PC_DAN, PC_EVE)] == [
        "Ana Promoter", "Ben Promoter", "Cleo Promoter", "Dan Promoter", "Eve Promoter"]
    assert pcs[PC_EVE]["campaign"]["name"] == "Main Campaign"
    assert {pc["state"] for pc in pcs.values()} == {"accepted"}
    others = [pc["coupon"] for pid, pc in pcs.items() if pid not in PROMOTER_CAMPAIGN_COUPONS]
    assert None in others
    named = [c for c in others if c is not None]
    assert len(named) == len(set(named))  # only SHARED10 is shared
    assert "SHARED10" not in named and "ANA20" not in named and "EVE15" not in named


def test_seed_defaults_to_the_current_time():
    standin = FirstPromoterStandIn()
    seed_firstpromoter(standin)
    with standin:
        since = get(standin, "/referrals/healthy%40example.com", find_by="email").json()["customer_since"]
    age = time.time() - datetime.fromisoformat(since).timestamp()
    assert 3 * DAY - 60 < age < 3 * DAY + 60


# ---------------------------------------------------------------------- commission and campaign states


def test_a_commission_carries_every_field_of_the_spec(fp):
    spec = load_spec("commissions")
    declared = set(spec["components"]["schemas"]["Commission"]["properties"])
    for c in get(fp, "/commissions", per_page=100).json():
        assert set(c) == declared, set(c) ^ declared


def test_add_commission_sets_status_fraud_check_paid_and_type(fp):
    rid = fp.add_referral("states@example.com", uid="cus_States01", state="active", promoter_campaign_id=PC_ANA,
                          created_at=NOW - 5 * DAY, customer_since=NOW - 4 * DAY)
    plain = fp.add_commission("in_StatesPlain", referral_id=rid, created_at=NOW - DAY)
    odd = fp.add_commission("in_StatesOdd", referral_id=rid, created_at=NOW - DAY, status="denied",
                            fraud_check="same_promoter_email", is_paid=True, commission_type="custom", amount=1234,
                            is_self_referral=True, status_updated_at=NOW - 3600)
    held = fp.add_commission(None, referral_id=rid, created_at=NOW - DAY, status="pending", fraud_check=None)
    by_id = {c["id"]: c for c in get(fp, "/commissions", q="states@example.com").json()}
    assert {k: by_id[plain][k] for k in ("status", "fraud_check", "is_paid", "commission_type", "amount",
                                         "is_self_referral", "unit")} == {
        "status": "approved", "fraud_check": "no_suspicion", "is_paid": False, "commission_type": "sale",
        "amount": 580, "is_self_referral": False, "unit": "cash"}
    assert by_id[plain]["status_updated_at"] == by_id[plain]["created_at"]
    assert {k: by_id[odd][k] for k in ("status", "fraud_check", "is_paid", "commission_type", "amount",
                                       "is_self_referral")} == {
        "status": "denied", "fraud_check": "same_promoter_email", "is_paid": True, "commission_type": "custom",
        "amount": 1234, "is_self_referral": True}
    assert datetime.fromisoformat(by_id[odd]["status_updated_at"]) == datetime.fromtimestamp(NOW - 3600, UTC)
    assert (by_id[held]["status"], by_id[held]["fraud_check"], by_id[held]["event_id"]) == ("pending", None, None)
    spec = load_spec("commissions")
    for c in by_id.values():
        assert_matches(c, spec, "#/components/schemas/Commission")
    assert [c["id"] for c in get(fp, "/commissions", q="states@", **{"filters[status]": "denied"}).json()] == [odd]
    for bad in ({"status": "rejected"}, {"fraud_check": "same_ip"}, {"commission_type": "refund"}, {"unit": "usd"}):
        with pytest.raises(ValueError):
            fp.add_commission("in_Bad", referral_id=rid, **bad)


def test_seeded_denied_and_fraud_held_commissions(fp):
    for name, status, fraud in (("commission-denied", "denied", "no_suspicion"),
                                ("commission-fraud", "pending", "same_ip_suspicion")):
        s = by_name(name)
        assert (s.referral_state, s.referral_uid, s.commission_event_id) == (
            "active", s.stripe_customer_id, f"in_{s.stripe_customer_id.removeprefix('cus_')}"), name
        (c,) = get(fp, "/commissions", q=s.commission_event_id).json()
        assert (c["status"], c["fraud_check"], c["is_paid"], c["referral"]["uid"]) == (
            status, fraud, False, s.stripe_customer_id), name
        recorded = datetime.fromisoformat(c["created_at"]).timestamp()
        assert NOW - recorded == pytest.approx(DAY - 90, abs=1), name  # ~90 s after yesterday's payment
        updated = datetime.fromisoformat(c["status_updated_at"]).timestamp()
        assert (updated > recorded) == (status == "denied"), name
        ref = get(fp, f"/referrals/{requests.utils.quote(s.email, safe='')}", find_by="email").json()
        since = datetime.fromisoformat(ref["customer_since"]).timestamp()
        assert NOW - since == pytest.approx(3 * DAY, abs=1), name


def test_promoter_campaign_state_is_served_in_listings_and_on_the_promoter(fp):
    fp.set_promoter_campaign_state(PC_EVE, "blocked")
    pid = fp.add_promoter("fay@promoters.example", "Fay Promoter", joined_at=NOW - DAY)
    fay = fp.add_promoter_campaign(pid, coupon="FAY10", display_coupon="FAY10", state="pending",
                                   created_at=NOW - DAY)
    rows = {pc["id"]: pc for page in (1, 2) for pc in get(fp, "/promoter_campaigns", per_page=100, page=page).json()}
    assert (rows[PC_EVE]["state"], rows[fay]["state"], rows[PC_ANA]["state"]) == ("blocked", "pending", "accepted")
    spec = load_spec("promoter-campaigns")
    for pcid in (PC_EVE, fay):
        assert_matches(rows[pcid], spec, "#/components/schemas/PromoterCampaign")
    promoter = get(fp, f"/promoters/{pid}").json()
    assert [pc["state"] for pc in promoter["promoter_campaigns"]] == ["pending"]
    assert get(fp, "/promoters").json()["meta"] == {"pending_count": 1}
    for state in ("rejected", "inactive", "accepted"):
        fp.set_promoter_campaign_state(fay, state)
        assert next(pc for pc in get(fp, "/promoter_campaigns", per_page=100, page=2).json()
                    if pc["id"] == fay)["state"] == state
    with pytest.raises(ValueError):
        fp.set_promoter_campaign_state(fay, "not_set")
    with pytest.raises(ValueError):
        fp.add_promoter_campaign(pid, state="active")


def test_the_other_promoters_coupon_scenario(fp):
    s = by_name("other-promoter-coupon")
    ref = get(fp, f"/referrals/{requests.utils.quote(s.email, safe='')}", find_by="email").json()
    assert (ref["state"], ref["entry_source"], ref["promoter_campaign"]["id"]) == ("signup", "cookie", PC_ANA)
    eve = next(pc for page in (1, 2) for pc in get(fp, "/promoter_campaigns", per_page=100, page=page).json()
               if pc["id"] == PC_EVE)
    assert (eve["coupon"], eve["promoter"]["name"], eve["state"]) == ("EVE15", "Eve Promoter", "accepted")
    assert get(fp, "/commissions", q=s.email).json() == []
