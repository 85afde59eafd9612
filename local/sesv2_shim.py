"""A local stand-in for the SESv2 API in front of moto: SendBulkEmail delivered through moto, the rest forwarded.

moto implements SESv2 SendEmail but neither SendBulkEmail nor SESv2 templates, and its SendEmail drops the
headers of simple content. So the local stack points functions here (`AWS_ENDPOINT_URL_SESV2`) and production
code calls the real API unchanged. This app answers `POST /v2/email/outbound-bulk-emails` (the REST-JSON
SendBulkEmail) itself: for each destination it renders the template from moto's SES template store (where
CloudFormation's AWS::SES::Template puts it, and where local/provision.py creates it), adds the default and
replacement headers (List-Unsubscribe and the like), and sends the result as one raw MIME message through
moto's SES v1 SendRawEmail, so mail, headers included, is visible in moto. Every other request goes to moto
unchanged.

Rendering is moto's TestRenderTemplate ({{name}} substitution); values in the HTML part are HTML-escaped
here, as SES's Handlebars does. Local tooling only: nothing in functions/ or layers/ imports it.

    python -m local.sesv2_shim --moto http://127.0.0.1:5000 --port 5001
"""

import argparse
import email
import email.policy
import html
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.utils import formatdate, make_msgid
from typing import Any

import boto3
import requests
from botocore.exceptions import ClientError
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

BULK_PATH = "/v2/email/outbound-bulk-emails"
MAX_ENTRIES = 50
_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
_HOP_BY_HOP = {"connection", "content-length", "content-encoding", "transfer-encoding", "keep-alive", "host"}


class _Failure(Exception):
    """An SESv2 error answer: HTTP status and error type, as the REST-JSON protocol spells them."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class _RenderingFailure(Exception):
    """The template could not be rendered with this destination's data (a missing variable)."""


def create_app(moto_endpoint_url: str) -> Any:
    """The WSGI app: bulk sends handled here, every other SESv2 call forwarded to moto."""
    moto = moto_endpoint_url.rstrip("/")
    clients: dict[str, Any] = {}
    lock = threading.Lock()

    def ses(region: str) -> Any:
        with lock:
            if region not in clients:
                clients[region] = boto3.client(
                    "ses",
                    region_name=region,
                    endpoint_url=moto,
                    aws_access_key_id="shim",
                    aws_secret_access_key="shim",
                )
            return clients[region]

    @Request.application
    def app(request: Request) -> Response:
        if request.method == "POST" and request.path == BULK_PATH:
            try:
                body = json.loads(request.get_data() or b"{}")
                results = _send_bulk(ses(_region_of(request)), body)
            except _Failure as failure:
                return _error(failure)
            except ValueError:
                return _error(_Failure(400, "BadRequestException", "The request body is not valid JSON."))
            return Response(json.dumps({"BulkEmailEntryResults": results}), content_type="application/json")
        return _forward(moto, request)

    return app


@dataclass
class ShimServer:
    """A running shim: its URL, and stop() to shut it down."""

    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(moto_endpoint_url: str, *, host: str = "127.0.0.1", port: int = 0) -> ShimServer:
    """Serve the shim on `host:port` (0: a free port) in a background thread."""
    server = make_server(host, port, create_app(moto_endpoint_url), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="sesv2-shim", daemon=True)
    thread.start()
    return ShimServer(server, thread)


def _send_bulk(ses: Any, body: dict[str, Any]) -> list[dict[str, str]]:
    entries = body.get("BulkEmailEntries") or []
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise _Failure(400, "BadRequestException", f"BulkEmailEntries must hold 1 to {MAX_ENTRIES} entries.")
    source = body.get("FromEmailAddress")
    if not source:
        raise _Failure(400, "BadRequestException", "FromEmailAddress is required.")
    template = (body.get("DefaultContent") or {}).get("Template") or {}
    name = template.get("TemplateName")
    if not name:
        raise _Failure(400, "BadRequestException", "DefaultContent.Template.TemplateName is required.")
    default_data = _data(template.get("TemplateData"))
    default_headers = template.get("Headers") or []
    results = []
    for entry in entries:
        data = {
            **default_data,
            **_data(
                ((entry.get("ReplacementEmailContent") or {}).get("ReplacementTemplate") or {}).get(
                    "ReplacementTemplateData"
                )
            ),
        }
        try:
            message = _render(ses, name, data)
        except _RenderingFailure as failure:
            # SES sends nothing to such a destination (and reports a rendering failure); say so here.
            results.append({"Status": "INVALID_PARAMETER", "Error": str(failure)})
            continue
        destination = entry.get("Destination") or {}
        recipients = [
            *destination.get("ToAddresses", []),
            *destination.get("CcAddresses", []),
            *destination.get("BccAddresses", []),
        ]
        message["From"] = source
        if destination.get("ToAddresses"):
            message["To"] = ", ".join(destination["ToAddresses"])
        if destination.get("CcAddresses"):
            message["Cc"] = ", ".join(destination["CcAddresses"])
        for header in [*default_headers, *(entry.get("ReplacementHeaders") or [])]:
            del message[header["Name"]]
            message[header["Name"]] = header["Value"]
        try:
            sent = ses.send_raw_email(
                Source=source, Destinations=recipients, RawMessage={"Data": message.as_bytes()}
            )
        except ClientError as error:
            results.append(
                {"Status": "MESSAGE_REJECTED", "Error": error.response["Error"].get("Message", "")}
            )
            continue
        results.append({"Status": "SUCCESS", "MessageId": sent["MessageId"]})
    return results


def _render(ses: Any, name: str, data: dict[str, Any]) -> EmailMessage:
    """Subject and text rendered as given, the HTML part with HTML-escaped values (SES's Handlebars)."""
    try:
        plain = _parse(ses.test_render_template(TemplateName=name, TemplateData=json.dumps(data)))
        escaped = {
            key: html.escape(value) if isinstance(value, str) else value for key, value in data.items()
        }
        for_html = _parse(ses.test_render_template(TemplateName=name, TemplateData=json.dumps(escaped)))
    except ClientError as error:
        if error.response["Error"]["Code"] == "TemplateDoesNotExist":
            raise _Failure(404, "NotFoundException", f"Template {name} does not exist.") from error
        raise _RenderingFailure(error.response["Error"].get("Message", "rendering failed")) from error
    message = EmailMessage()
    message["Subject"] = plain["Subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="sesv2-shim.local")
    text, html_part = _part(plain, "text/plain"), _part(for_html, "text/html")
    if text is not None:
        message.set_content(text)
    if html_part is not None:
        if text is None:
            message.set_content(html_part, subtype="html")
        else:
            message.add_alternative(html_part, subtype="html")
    return message


def _parse(rendered: dict[str, Any]) -> Message:
    return email.message_from_string(rendered["RenderedTemplate"], policy=email.policy.default)


def _part(message: Message, content_type: str) -> str | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            payload = part.get_payload(decode=True)
            return payload.decode(part.get_content_charset() or "utf-8") if payload else ""
    return None


def _data(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise _Failure(400, "BadRequestException", "Template data is not valid JSON.") from error
    if not isinstance(data, dict):
        raise _Failure(400, "BadRequestException", "Template data must be a JSON object.")
    return data


def _region_of(request: Request) -> str:
    found = _REGION.search(request.headers.get("Authorization", ""))
    return found.group(1) if found else "us-east-1"


def _forward(moto: str, request: Request) -> Response:
    upstream = requests.request(
        request.method,
        f"{moto}{request.full_path if request.query_string else request.path}",
        headers={key: value for key, value in request.headers.items() if key.lower() not in _HOP_BY_HOP},
        data=request.get_data(),
        timeout=30,
    )
    headers: Iterable[tuple[str, str]] = [
        (key, value) for key, value in upstream.headers.items() if key.lower() not in _HOP_BY_HOP
    ]
    return Response(upstream.content, status=upstream.status_code, headers=list(headers))


def _error(failure: _Failure) -> Response:
    return Response(
        json.dumps({"message": failure.message}),
        status=failure.status,
        content_type="application/json",
        headers={"x-amzn-ErrorType": failure.kind},
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local.sesv2_shim", description=__doc__.splitlines()[0])
    parser.add_argument("--moto", required=True, help="moto server URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args()
    running = serve(arguments.moto, host=arguments.host, port=arguments.port)
    print(f"SESv2 shim on {running.url} -> {arguments.moto}", flush=True)
    try:
        running.thread.join()
    except KeyboardInterrupt:
        running.stop()


if __name__ == "__main__":
    main()
