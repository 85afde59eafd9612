"""openapi.json is the merged document generated from the handlers and template.yaml, never edited by hand."""

from local import openapi, template


def test_the_committed_document_matches_the_code() -> None:
    generated = openapi.render(openapi.build())
    assert openapi.DOCUMENT.read_text() == generated, "openapi.json is out of date: run `make openapi`"


def test_every_template_route_is_documented_with_the_gateways_answers() -> None:
    document = openapi.build()
    for route in template.http_routes():
        operation = document["paths"][route.path][route.method.lower()]
        assert {"500", "503"} <= set(operation["responses"])
        if route.authorized:
            assert operation["security"] == [{"bearerAuth": []}]
            unauthorized = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert unauthorized == {"$ref": "#/components/schemas/GatewayMessage"}
        else:
            assert operation["security"] == []
