"""Secrets read at run time from Secrets Manager (cached by Powertools Parameters), never from the environment."""

from dataclasses import dataclass, field

from reels_live.core.config import settings


@dataclass(frozen=True)
class Credentials:
    """The API key pair from Secrets Manager; `previous_keys` still verify webhooks during a rotation."""

    api_key: str
    api_secret: str
    previous_keys: dict[str, str] = field(default_factory=dict)

    @property
    def verification_keys(self) -> dict[str, str]:
        return {**self.previous_keys, self.api_key: self.api_secret}


def livekit_credentials() -> Credentials:
    """Read (and cache for LIVEKIT_CREDENTIALS_MAX_AGE_SECONDS) the secret `{apiKey, apiSecret, previousKeys?}`."""
    from aws_lambda_powertools.utilities import parameters

    config = settings()
    secret = parameters.get_secret(
        config.livekit_credentials_secret,
        transform="json",
        max_age=config.livekit_credentials_max_age_seconds,
    )
    return Credentials(
        api_key=secret["apiKey"],
        api_secret=secret["apiSecret"],
        previous_keys=dict(secret.get("previousKeys") or {}),
    )


def unsubscribe_signing_key() -> bytes:
    """The unsubscribe links' HMAC key (cached by Powertools for UNSUBSCRIBE_SECRET_MAX_AGE_SECONDS)."""
    from aws_lambda_powertools.utilities import parameters

    config = settings()
    secret = parameters.get_secret(
        config.unsubscribe_secret_arn, max_age=config.unsubscribe_secret_max_age_seconds
    )
    return str(secret).encode()
