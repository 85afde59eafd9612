"""Path parameters several routes share, validated before a handler runs."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

StreamIdPath = Annotated[
    str,
    Path(
        pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$", description="Stream id (26 characters, sorts by creation time)"
    ),
]

UserIdPath = Annotated[
    str, Path(pattern=r"^[\w.|:@-]{1,128}$", description="A user id (the identity provider's `sub`)")
]
