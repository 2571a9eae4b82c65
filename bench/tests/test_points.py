import json
from dataclasses import replace

from bench.points import (
    FANOUT_ROUTES,
    NOLOG_SERVICE,
    SERVICES,
    VARY,
    Point,
    baseline,
    body_for,
    json_body,
    plan,
    select,
)
from bench.shadow import SHADOW_GATEWAY


def test_json_body_unquotes_only_varied_numbers():
    text = json_body({"income": f"85000.{VARY}", "name": "85000.1", "text": f"ref {VARY}"})
    assert text == '{"income":85000.__N__,"name":"85000.1","text":"ref __N__"}'


def test_miss_body_varies_every_instance_and_parses_once_filled():
    point = Point("gateway", "credit", "/v1/models/credit:predict", 16, 3, "miss")
    body = body_for(point)
    assert body.count(VARY) == 3
    filled = json.loads(body.replace(VARY, "123", 1).replace(VARY, "124", 1)
                        .replace(VARY, "125", 1))
    assert [i["income"] for i in filled["instances"]] == [85000.123, 85000.124, 85000.125]


def test_static_bodies_are_valid_and_instances_distinct_for_every_service():
    for name in SERVICES:
        body = body_for(Point(name, name, f"/v1/models/{name}:predict", 1, 4))
        assert VARY not in body
        instances = json.loads(body)["instances"]
        assert len(instances) == 4
        assert len({json.dumps(i, sort_keys=True) for i in instances}) == 4


def test_fanout_hit_body_is_fixed_and_miss_body_varies():
    for route in FANOUT_ROUTES:
        hit = body_for(Point("gateway", route, "/x", 16, 1, "hit"))
        assert VARY not in hit and json.loads(hit)
        assert VARY in body_for(Point("gateway", route, "/x", 16, 1, "miss"))


def test_mlserver_body_is_a_v2_matrix_from_the_encoder():
    seen = []

    def encode(instances):
        seen.extend(instances)
        return [[float(i["income"]), 1.0] for i in instances]

    body = json.loads(body_for(Point("mlserver", "mlserver", "/v2", 16, 2), encode))
    assert seen[0]["income"] == 85000.1 and seen[1]["income"] == 85000.2
    tensor = body["inputs"][0]
    assert tensor["shape"] == [2, 2] and tensor["datatype"] == "FP32"
    assert tensor["data"] == [85000.1, 1.0, 85000.2, 1.0]


def test_plans_have_unique_keys_and_pair_credit_with_the_peer():
    for quick in (True, False):
        points = plan(quick)
        keys = [p.key for p in points]
        assert len(keys) == len(set(keys))
        peer = {(p.connections, p.instances) for p in points if p.route == "mlserver"}
        ours = {(p.connections, p.instances) for p in points
                if p.route == "credit" and not p.cache}
        assert peer and peer <= ours
    full = plan(False)
    assert {p.connections for p in full} == {1, 16, 64}
    assert {p.instances for p in full} == {1, 32}
    assert {p.cache for p in full if p.target == "gateway"} == {"miss", "hit"}
    assert {p.route for p in full} >= set(SERVICES) | set(FANOUT_ROUTES)
    assert len(plan(True)) < len(full)


def test_points_name_the_services_they_need():
    assert Point("mlserver", "mlserver", "/v2", 1, 1).needs == ("credit",)
    assert Point("gateway", "analyze/message", "/x", 1, 1, "hit").needs == ("intent", "ner")
    assert Point("gateway", "ner", "/x", 1, 1, "miss").needs == ("ner",)


def test_shadow_points_sit_right_after_their_twin_at_one_and_sixteen_connections():
    for quick in (True, False):
        points = plan(quick)
        shadows = [p for p in points if p.shadow]
        wanted = {(16, cache) for cache in ("miss", "hit")}
        if not quick:
            wanted |= {(1, cache) for cache in ("miss", "hit")}
        assert {(p.connections, p.cache) for p in shadows} == wanted
        for p in shadows:
            assert (p.route, p.instances, p.target) == ("credit", 1, SHADOW_GATEWAY)
            assert "shadow" in p.key and p.needs == ("credit",)
            twin = points[points.index(p) - 1]
            assert twin == baseline(p) == replace(p, target="gateway", shadow=False)
            assert body_for(p) == body_for(twin)


def test_only_shadow_keeps_the_twins_without_shadow_in_plan_order():
    full = plan(False)
    chosen = select(full, "shadow")
    assert [p.key for p in chosen] == [
        f"credit via gateway{side} ({cache}) c{c} b1"
        for c in (1, 16) for cache in ("miss", "hit") for side in ("", "+shadow")]
    credit = select(full, "credit")
    assert credit == [p for p in full if "credit" in p.key] and any(p.shadow for p in credit)
    assert select(full, "c64") == [p for p in full if "c64" in p.key]


def test_credit_has_a_v2_point_beside_each_v1_point_and_before_ones_when_asked():
    from kit.v2_codec import Tensor, decode_request

    for quick in (True, False):
        points = plan(quick)
        v1 = [(p.connections, p.instances) for p in points
              if p.route == "credit" and not p.cache and not p.variant and not p.log_off]
        v2 = [(p.connections, p.instances) for p in points if p.variant == "v2"]
        assert v1 == v2 and not any(p.variant == "before" for p in points)
        before = [(p.connections, p.instances, p.target) for p in plan(quick, before=True)
                  if p.variant == "before"]
        assert [p for p in before if p[2] == "credit@before"] == [(c, b, "credit@before")
                                                                 for c, b in v1]
        assert {p[2] for p in before} == {"credit@before", "intent@before", "ner@before"}
    point = next(p for p in plan(True) if p.variant == "v2" and p.instances == 32)
    assert point.path == "/v2/models/credit/infer" and point.key == "credit v2 c16 b32"
    v1 = json.loads(body_for(replace(point, path="/v1/models/credit:predict", variant="")))
    names = list(v1["instances"][0])
    tensors = [Tensor(n, "BYTES" if n == "employment_type" else "FP32") for n in names]
    decoded = decode_request(body_for(point).encode(), None, tensors, 256, 32)
    assert decoded.instances == v1["instances"]  # the same 32 instances as the V1 point


def test_only_takes_several_comma_separated_texts():
    keys = [p.key for p in select(plan(True, before=True), "credit c,credit v2,credit before")]
    assert keys == ["credit c16 b1", "credit (log off) c16 b1", "credit before c16 b1",
                    "credit v2 c16 b1", "credit c16 b32", "credit before c16 b32",
                    "credit v2 c16 b32"]


def test_log_off_points_sit_right_after_their_logging_twin_and_come_with_it():
    full = plan(False)
    keys = [p.key for p in full]
    for c in (1, 16, 64):
        on = keys.index(f"credit c{c} b1")
        assert keys[on + 1] == f"credit (log off) c{c} b1"
        assert full[on + 1].target == NOLOG_SERVICE and full[on + 1].needs == ("credit",)
    assert "credit (log off) c1 b32" not in keys  # the goal is one instance at one connection
    assert [p.key for p in select(full, "credit c1 b1")] == ["credit c1 b1",
                                                             "credit (log off) c1 b1"]
    assert [p.key for p in select(full, "log off) c1 ")] == ["credit c1 b1",
                                                             "credit (log off) c1 b1"]
