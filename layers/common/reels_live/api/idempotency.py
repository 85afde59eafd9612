"""`Idempotency-Key` for API operations: a retry gets the first answer, scoped to the caller.

The idempotency key is the caller's `sub` plus the header, so nobody can read another user's answer by
guessing a key. Only successful results are stored (a failed attempt, a 503 included, raises, and Powertools
deletes its in-progress record), and the same key with a different body is rejected.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from reels_live.core.config import settings
from reels_live.core.errors import IdempotencyKeyReused, IdempotentRequestInProgress
from reels_live.store.idempotency import persistence

IDEMPOTENCY_HEADER = "Idempotency-Key"


def once_per_key(
    operation: str,
    *,
    caller: str,
    key: str | None,
    request: BaseModel,
    run: Callable[[], BaseModel],
    lambda_context: LambdaContext | None,
) -> BaseModel | dict[str, Any]:
    """Run `run` once per (caller, key); without a key it simply runs. Replays return the stored JSON."""
    if key is None:
        return run()
    config = IdempotencyConfig(
        event_key_jmespath="[caller, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=settings().idempotency_ttl_seconds,
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)

    @idempotent_function(  # type: ignore[untyped-decorator]  # Powertools types its result as Any
        data_keyword_argument="envelope", persistence_store=persistence(operation), config=config
    )
    def first_answer(envelope: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG001 (Powertools hashes it)
        return run().model_dump(mode="json")

    try:
        # The first answer's JSON, run now or replayed from the record.
        answer: dict[str, Any] = first_answer(
            envelope={"caller": caller, "key": key, "body": request.model_dump(mode="json")}
        )
    except IdempotencyValidationError as error:
        raise IdempotencyKeyReused(
            f"This {IDEMPOTENCY_HEADER} was already used with a different body.", field=IDEMPOTENCY_HEADER
        ) from error
    except IdempotencyAlreadyInProgressError as error:
        raise IdempotentRequestInProgress(
            f"A request with this {IDEMPOTENCY_HEADER} is still in progress; retry shortly."
        ) from error
    return answer
