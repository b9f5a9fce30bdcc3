"""The ceiling for bench/flash_sale.py: the same stack (gunicorn, PostgreSQL, Redis) doing
the least a write endpoint can do — one Redis round trip and one single-row PostgreSQL
transaction — with no checkout logic. Served by gunicorn as `bench.ceiling:app`."""
import os

import redis
from flask import Flask
from sqlalchemy import create_engine, text

app = Flask(__name__)
engine = create_engine(os.environ["CEILING_DATABASE_URL"], pool_size=10, max_overflow=20)
cache = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.post("/ceiling")
def ceiling():
    cache.incr("bench:ceiling")
    with engine.begin() as conn:
        conn.execute(text("UPDATE bench_ceiling SET hits = hits + 1 WHERE id = 1"))
    return "ok"
