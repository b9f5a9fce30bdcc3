"""Release n threads at once against a real database; what each one ended with is the result."""
import threading

from mall.extensions import db


def race(app, n, work, *, refusals=(Exception,), returns=False):
    """Run work(i) in n threads released together by a barrier, each in its own app context
    and session. Returns each thread's outcome: "ok" (or, with returns=True, what work(i)
    returned), or the class name of the refusal it raised (rolled back). Anything not in
    `refusals` is reported as its repr, so the assertion that fails shows it instead of a
    hung or silent thread."""
    outcomes, barrier = [None] * n, threading.Barrier(n)

    def run(i):
        with app.app_context():
            barrier.wait()
            try:
                result = work(i)
                db.session.commit()
                outcomes[i] = result if returns else "ok"
            except refusals as exc:
                db.session.rollback()
                outcomes[i] = type(exc).__name__
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                outcomes[i] = repr(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes
