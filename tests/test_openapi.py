"""The OpenAPI document: valid 3.1, and in step with the routes the app serves."""

from __future__ import annotations

import json

import falcon
from openapi_spec_validator import validate

from falcon_img.cli import cli
from falcon_img.openapi import openapi_path

RESPONDER_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}


def served_routes(app: falcon.App) -> dict[str, set[str]]:
    """Every URI template the app's router holds, with the methods it has responders for."""
    found: dict[str, set[str]] = {}

    def walk(nodes):
        for node in nodes:
            if node.method_map:
                methods = {
                    method for method, responder in node.method_map.items()
                    if method in RESPONDER_METHODS and not getattr(responder, "__name__", "").startswith("method_not_allowed")
                }
                found[node.uri_template] = methods
            walk(node.children)

    walk(app._router._roots)
    return found


def test_document_is_valid_openapi_3_1(client):
    result = client.simulate_get("/api/v1.0/openapi.json")
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("application/json")
    document = result.json
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_served_route_is_documented_and_every_documented_route_is_served(app, client):
    document = client.simulate_get("/api/v1.0/openapi.json").json
    served = {openapi_path(t): methods for t, methods in served_routes(app).items()}
    documented = {
        path: {method.upper() for method in item if method in {"get", "head", "post", "put", "delete", "patch"}}
        for path, item in document["paths"].items()
    }
    assert served == documented


def test_contract_routes_and_statuses_are_in_the_document(client):
    paths = client.simulate_get("/api/v1.0/openapi.json").json["paths"]
    expected = {
        ("/api/v1.0/images", "post"): {"201", "400", "401", "409", "411", "413", "415", "429", "503"},
        ("/api/v1.0/images", "get"): {"200", "400"},
        ("/api/v1.0/images/{image_id}", "get"): {"200", "404"},
        ("/api/v1.0/images/{image_id}", "delete"): {"200", "401", "403", "404"},
        ("/api/v1.0/file/{file_name}", "get"): {"200", "206", "304", "400", "404", "416"},
        ("/api/v1.0/images/{image_id}/comments", "post"): {"201", "400", "401", "404", "415"},
        ("/api/v1.0/images/{image_id}/comments", "get"): {"200", "400", "404"},
        ("/api/v1.0/comments/{comment_id}", "get"): {"200", "404"},
        ("/api/v1.0/comments/{comment_id}", "put"): {"200", "400", "401", "403", "404"},
        ("/api/v1.0/comments/{comment_id}", "delete"): {"200", "401", "403", "404"},
        ("/healthz", "get"): {"200", "503"},
    }
    for (path, method), statuses in expected.items():
        documented = {str(status) for status in paths[path][method]["responses"]}
        assert statuses <= documented, (path, method, statuses - documented)


def test_request_bodies_are_documented(client):
    paths = client.simulate_get("/api/v1.0/openapi.json").json["paths"]
    upload = paths["/api/v1.0/images"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["required"] == ["file"]
    assert upload["properties"]["file"]["format"] == "binary"
    for method in ("post",):
        body = paths["/api/v1.0/images/{image_id}/comments"][method]["requestBody"]["content"]
        assert {"application/json", "application/x-www-form-urlencoded", "multipart/form-data"} <= set(body)
    assert "requestBody" in paths["/api/v1.0/comments/{comment_id}"]["put"]


def test_deprecated_aliases_are_marked(client):
    schemas = client.simulate_get("/api/v1.0/openapi.json").json["components"]["schemas"]
    assert schemas["Image"]["properties"]["time"]["deprecated"] is True
    assert schemas["Comment"]["properties"]["comm"]["deprecated"] is True
    assert "deprecated" not in schemas["Comment"]["properties"]["text"]


def test_documented_representations_match_what_the_api_sends(client, image):
    schemas = client.simulate_get("/api/v1.0/openapi.json").json["components"]["schemas"]
    sent = client.simulate_get(image["image_url"]).json
    assert set(sent) == set(schemas["Image"]["properties"])
    comment = client.simulate_post(image["comm_url"], json={"text": "hi"}).json
    assert set(comment) == set(schemas["CommentCreated"]["properties"])


def test_cli_prints_the_same_document(runner, settings, client):
    result = runner.invoke(cli, ["openapi"], obj=settings)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == client.simulate_get("/api/v1.0/openapi.json").json
