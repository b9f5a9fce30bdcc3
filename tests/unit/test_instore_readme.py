"""The POS API curl examples in docs/instore.md (linked from the README), run as written (with
bash and curl) against a live server holding the demo data; each answer is checked against the
OpenAPI document."""
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from mall import create_app
from mall.config import TestConfig
from mall.demo import DEMO_API_KEY, load_demo
from mall.extensions import db
from tests.instore_world import OpenAPIValidator

INSTORE_DOC = Path(__file__).resolve().parents[2] / "docs" / "instore.md"


def readme_blocks() -> list[str]:
    text = INSTORE_DOC.read_text(encoding="utf-8")
    section = text.split("\n## POS API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def _json_values(output: str) -> list:
    """curl prints bodies back to back: read every JSON value in order."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while at < len(output):
        if output[at].isspace():
            at += 1
            continue
        value, at = decoder.raw_decode(output, at)
        values.append(value)
    return values


@pytest.fixture
def live(fast_dir, clock):
    from werkzeug.serving import make_server

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{fast_dir / 'readme.sqlite3'}"

    app = create_app(Config, clock=clock)
    with app.app_context():
        db.create_all()
        load_demo(clock.now())
        db.session.commit()
        from mall.checkout.models import Order
        from mall.instore.codes import pickup_code
        order = db.session.scalar(select(Order).where(Order.idempotency_key == "demo-pickup-points"))
        code = pickup_code(order.id, order.number).short
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["MALL_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"  # the site's address: QR links use it
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}", code
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def _run(setup: str, block: str, base: str, code: str) -> str:
    # The document's own export line runs first; only the server address is this test's.
    script = f"set -e\n{setup}\nexport MALL={base} PICKUP_CODE={code}\n{block}"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_curl_examples_work_as_documented(live):
    app, base, code = live
    setup, lookup, earn, receipt_qr, refund, pickup, *with_lines = readme_blocks()
    assert DEMO_API_KEY in setup
    with app.app_context():
        validator = OpenAPIValidator(app.test_client().get("/api/v1/openapi.json").get_json())

    def check(path, method, body, status):
        class Response:  # what the validator reads from a response
            status_code, mimetype = status, "application/json"

            @staticmethod
            def get_json():
                return body
        return validator.check(path, method, Response)

    member, = _json_values(_run(setup, lookup, base, code))
    check("/members", "get", member, 200)
    assert member["tier"]["code"] == "gold" and member["member_code"]

    first, = _json_values(_run(setup, earn, base, code))
    check("/purchases", "post", first, 201)
    assert (first["status"], first["points"], first["receipt_no"]) == ("claimed", 153, "T3-000123")
    again, = _json_values(_run(setup, earn, base, code))
    assert again == first  # a retry: the same purchase, nothing credited twice

    open_, = _json_values(_run(setup, receipt_qr, base, code))
    check("/purchases", "post", open_, 201)
    assert open_["status"] == "open" and f"{base}/r/" in open_["claim_url"]

    refunded, = _json_values(_run(setup, refund, base, code))
    check("/purchases/{receipt_no}/refund", "post", refunded, 200)
    assert (refunded["reversed_points"], refunded["clawback_points"]) == (153, 0)

    preview, redeemed = _json_values(_run(setup, pickup, base, code))
    check("/pickups/{code}", "get", preview, 200)
    check("/pickups", "post", redeemed, 201)
    assert preview["code"] == code and redeemed["store_code"] == "SH-012"

    earn_lines, partial_refund = with_lines  # issue 12: purchases with lines, partial refunds
    lined, = _json_values(_run(setup, earn_lines, base, code))
    check("/purchases", "post", lined, 201)
    assert lined["status"] == "claimed" and [l["category"] for l in lined["lines"]] == ["fresh", "kitchen"]
    assert sum(l["points"] for l in lined["lines"]) == lined["points"] > 0
    part, = _json_values(_run(setup, partial_refund, base, code))
    check("/purchases/{receipt_no}/refund", "post", part, 200)
    fresh = lined["lines"][0]["points"]
    assert part["reversed_points"] + part["clawback_points"] == fresh // 2  # 1 of 2 units, rounded down
    assert part["purchase"]["status"] == "claimed" and part["refunded_amount_minor"] == 4300
