"""Fuzzing the live API from its own OpenAPI document (schemathesis, fixed seed, bounded run).

Real Gunicorn serves the API (SQLite; also PostgreSQL when
FALCON_IMG_TEST_DATABASE_URL is set). An image and a comment are seeded first,
and schemathesis is told their ids and file name, so generated requests reach
real rows as well as missing ones. The run passes when no response is a server
error and every response keeps the document: its status is documented, its
Content-Type is one the operation declares, its body fits the schema, its
documented headers are there, a deleted resource is gone and a created one can
be fetched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import urllib3

from servers import GunicornServer
from support import image_bytes

pytestmark = pytest.mark.e2e

API = "/api/v1.0"
POSTGRES_URL = os.environ.get("FALCON_IMG_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
ST = Path(sys.executable).parent / "st"

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "use_after_free",
    "ensure_resource_availability",
]
SEED = 20240607
#: Test cases per operation and phase: the whole run stays around a minute on two cores.
MAX_EXAMPLES = 40 if len(BACKENDS) == 1 else 25
RUN_TIMEOUT_SECONDS = 300


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed_server(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    database_url = POSTGRES_URL if request.param == "postgresql" else ""
    server = GunicornServer.in_folder(root, workers=2, database_url=database_url)
    with server:
        yield server


def seed(server: GunicornServer) -> dict:
    body, content_type = urllib3.encode_multipart_formdata({"file": ("seed.png", image_bytes(), "image/png")})
    image = server.request("POST", f"{API}/images", body=body, headers={"Content-Type": content_type})
    assert image.status == 201, image
    comment = server.request_json("POST", image.json()["comm_url"], {"text": "seed comment"})
    assert comment.status == 201, comment
    return {"image": image.json(), "comment": comment.json()}


def schemathesis_config(path: Path, seeded: dict) -> Path:
    """Known ids and names, offered to the generator half of the time; the other half is its own."""
    image, comment = seeded["image"], seeded["comment"]
    config = {
        "dictionaries": {
            "image_ids": {"values": [image["id"]]},
            "comment_ids": {"values": [comment["id"]]},
            "file_names": {"values": [image["name"]]},
        },
        "parameters": {
            "path.image_id": {"dictionary": "image_ids", "probability": 0.5},
            "path.comment_id": {"dictionary": "comment_ids", "probability": 0.5},
            "path.file_name": {"dictionary": "file_names", "probability": 0.5},
        },
    }
    path.write_text(toml(config))
    return path


def toml(document: dict) -> str:
    """The few TOML shapes the config needs: tables of inline values (JSON strings are TOML strings)."""
    lines = []
    for table, entries in document.items():
        for key, value in entries.items():
            lines.append(f"[{table}.{json.dumps(key)}]")
            for name, item in value.items():
                lines.append(f"{name} = {json.dumps(item)}")
            lines.append("")
    return "\n".join(lines)


def test_the_api_keeps_its_openapi_document_under_fuzzing(fuzzed_server, tmp_path):
    seeded = seed(fuzzed_server)
    config = schemathesis_config(tmp_path / "schemathesis.toml", seeded)

    completed = subprocess.run(
        [
            str(ST), "--config-file", str(config), "--no-color", "run",
            f"{fuzzed_server.url}{API}/openapi.json",
            "--checks", ",".join(CHECKS),
            "--max-examples", str(MAX_EXAMPLES),
            "--seed", str(SEED),
            "--workers", "1",
            "--generation-database", "none",
            "--request-timeout", "30",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL,
    )

    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-12_000:]
    assert " passed" in output and "generated" in output, output[-4_000:]
    log = fuzzed_server.log()
    assert "Traceback" not in log, fuzzed_server.log_tail(120)
    assert '"status": 500' not in log
    assert fuzzed_server.request("GET", "/healthz").status == 200
