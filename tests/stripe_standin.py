"""A local stand-in for the few Stripe endpoints the gateway calls, so the real SDK can be
exercised offline: PaymentIntents (create, retrieve, cancel) and refunds, with
Idempotency-Key honoured as Stripe does (same key, same object)."""
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class StripeStandIn:
    def __init__(self):
        self.intents: dict[str, dict] = {}
        self.refunds: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.down = False
        self._ids = itertools.count(1)
        self._by_key: dict[str, dict] = {}
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                standin.requests.append((method, self.path))
                if standin.down:
                    return self._reply(500, {"error": {"type": "api_error", "message": "stand-in is down"}})
                if not (self.headers.get("Authorization") or "").startswith("Bearer sk_"):
                    return self._reply(401, {"error": {"type": "invalid_request_error", "message": "no key"}})
                status, body = standin.route(method, self.path, form, self.headers.get("Idempotency-Key"))
                self._reply(status, body)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def route(self, method, path, form, key):
        with self._lock:
            if key and key in self._by_key:
                return 200, self._by_key[key]
            parts = path.strip("/").split("/")
            if method == "POST" and parts == ["v1", "payment_intents"]:
                n = next(self._ids)
                intent = {"id": f"pi_standin_{n}", "object": "payment_intent", "amount": int(form["amount"]),
                          "currency": form["currency"], "status": "requires_payment_method",
                          "client_secret": f"pi_standin_{n}_secret_x",
                          "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}}
                self.intents[intent["id"]] = intent
                body = intent
            elif method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "payment_intents"]:
                if parts[2] not in self.intents:
                    return 404, {"error": {"type": "invalid_request_error", "message": "no such intent"}}
                body = self.intents[parts[2]]
            elif method == "POST" and len(parts) == 4 and parts[3] == "cancel":
                intent = self.intents[parts[2]]
                intent["status"] = "canceled"
                body = intent
            elif method == "POST" and parts == ["v1", "refunds"]:
                refund = {"id": f"re_standin_{next(self._ids)}", "object": "refund", "status": "succeeded",
                          "payment_intent": form["payment_intent"], "amount": int(form["amount"])}
                self.refunds.append(refund)
                body = refund
            else:
                return 404, {"error": {"type": "invalid_request_error", "message": f"no route {method} {path}"}}
            if key:
                self._by_key[key] = body
            return 200, body

    def set_status(self, intent_id: str, status: str) -> dict:
        self.intents[intent_id]["status"] = status
        return self.intents[intent_id]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
