"""The ceiling: a bare Flask app whose /health returns a constant (what Flask alone costs here)."""

from flask import Flask

app = Flask(__name__)


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}
