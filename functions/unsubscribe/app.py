"""One-click unsubscribe from go-live email (RFC 8058), outside the JWT authorizer: the signed link is
the authority. POST switches the email off (what mailbox providers send); GET only shows a confirmation
page with a button that POSTs, because mail scanners prefetch links and must change nothing."""

import html
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.api.resolver import documented, http_api
from reels_live.api.schemas import ErrorEnvelope
from reels_live.core.errors import DomainError
from reels_live.core.observability import logger, metrics, tracer
from reels_live.notifications import unsubscribe

app = http_api()

Token = Annotated[
    str,
    Query(
        alias="t",
        min_length=10,
        max_length=512,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Signed link token",
    ),
]
_HTML = "text/html; charset=utf-8"
_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>'
    '<body style="font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">'
    "<h1>{title}</h1><p>{text}</p>{extra}</body></html>"
)


def _responses(success: str, *, error_pages: bool = False) -> dict:
    page = {"text/html": {"schema": {"type": "string"}}}
    errors = {
        status: value
        for status, value in documented((200, ErrorEnvelope, ""), 403, 410).items()
        if status != 200
    }
    if error_pages:
        # The confirmation page answers a bad or expired link with an HTML error page, not the envelope.
        for status in (403, 410):
            errors[status] = {"description": errors[status]["description"], "content": page}
    return {200: {"description": success, "content": page}, **errors}


@app.get(
    "/unsubscribe",
    summary="Confirmation page for an unsubscribe link (changes nothing)",
    operation_id="unsubscribePage",
    responses=_responses(
        "A page with a button that confirms (an error page for a bad or expired link)", error_pages=True
    ),
    tags=["email"],
)
@tracer.capture_method
def confirm_page(t: Token) -> Response[str]:
    try:
        unsubscribe.verify(t)
    except DomainError as error:
        return _page(error.status, "This link does not work", error.message)
    form = (
        f'<form method="post" action="?t={html.escape(t)}">'
        '<button type="submit" style="font-size:1rem;padding:.5rem 1rem">Unsubscribe</button></form>'
    )
    return _page(
        200,
        "Stop go-live emails?",
        "You will no longer get an email when someone you follow goes live.",
        form,
    )


@app.post(
    "/unsubscribe",
    summary="One-click unsubscribe (RFC 8058): go-live email off",
    operation_id="unsubscribe",
    responses=_responses("Unsubscribed (also when already unsubscribed)"),
    tags=["email"],
)
@tracer.capture_method
def one_click(t: Token) -> Response[str]:
    # The body (List-Unsubscribe=One-Click) carries nothing we need; the signed link is the whole request.
    unsubscribe.unsubscribe(t)
    return _page(
        200, "Unsubscribed", "You will no longer get go-live emails. Change this any time in the app."
    )


def _page(status: int, title: str, text: str, extra: str = "") -> Response[str]:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text), extra=extra)
    return Response(status_code=status, content_type=_HTML, body=body, headers={"Cache-Control": "no-store"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
