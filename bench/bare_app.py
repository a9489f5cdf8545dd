"""The baseline for bench/capture_throughput.py: a Flask app that only parses the form."""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/api/forms/<form_id>")
def submit(form_id):
    """Parse the body as the real app must, store nothing, answer 201."""
    data = request.form.to_dict()
    return jsonify(id="x" * 20, status="received", fields=len(data)), 201


@app.get("/api/health")
def health():
    return jsonify(status="ok")
