"""Domain errors: a stable machine code, a human message, and the HTTP status each one becomes.

The domain raises these without knowing about HTTP; `reels_live.api` turns them into the one error
envelope `{"error": {"code", "message", "field"?, ...details}}` using `status` and `headers`.
"""

from typing import Any


class DomainError(Exception):
    """Base of every error a caller may see."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers (Retry-After and the like)."""
        return {}


class InvalidRequest(DomainError):
    """The request is well-formed JSON but breaks a rule; `field` names the culprit."""

    status = 422
    code = "validation_error"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class PaymentRequired(DomainError):
    status = 402
    code = "payment_required"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Gone(DomainError):
    status = 410
    code = "gone"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message, retryAfterSeconds=retry_after_seconds)
        self.retry_after_seconds = retry_after_seconds

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class ServiceUnavailable(DomainError):
    """A dependency (LiveKit) failed after retries; the request changed nothing and can be retried."""

    status = 503
    code = "service_unavailable"

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class StreamNotFound(NotFound):
    code = "stream_not_found"


class StreamEnded(Gone):
    code = "stream_ended"


class NotStreamOwner(Forbidden):
    code = "not_stream_owner"


class ActiveStreamExists(Conflict):
    code = "active_stream_exists"


class StreamRequiresPayment(PaymentRequired):
    code = "payment_required"


class LiveKitUnavailable(ServiceUnavailable):
    code = "livekit_unavailable"


class IdempotencyKeyReused(InvalidRequest):
    code = "idempotency_key_reused"


class IdempotentRequestInProgress(Conflict):
    code = "idempotency_in_progress"


class UserNotFound(NotFound):
    code = "user_not_found"


class CannotFollowSelf(InvalidRequest):
    code = "cannot_follow_self"


class NotificationNotFound(NotFound):
    code = "notification_not_found"


class PlatformNotConfigured(InvalidRequest):
    """This deployment has no SNS platform application for the device's platform."""

    code = "platform_not_configured"


class PushUnavailable(ServiceUnavailable):
    code = "push_unavailable"


class InvalidUnsubscribeLink(Forbidden):
    code = "invalid_unsubscribe_link"


class UnsubscribeLinkExpired(Gone):
    code = "unsubscribe_link_expired"


class InvalidWebhookSignature(Unauthorized):
    """A LiveKit webhook whose Authorization token or body hash does not verify: nothing is applied."""

    code = "invalid_webhook_signature"


class MalformedWebhook(DomainError):
    """A verified LiveKit webhook whose body is not a WebhookEvent."""

    status = 400
    code = "malformed_webhook"


class StillContended(ServiceUnavailable):
    """Concurrent writers kept changing the stream; nothing was applied and a retry will be."""

    code = "state_contended"


class InvalidCursor(InvalidRequest):
    code = "invalid_cursor"
