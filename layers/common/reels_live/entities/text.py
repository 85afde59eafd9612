"""What user text may carry: no control characters; tags normalised. Shared by every write path."""

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TAG = re.compile(r"^[\w-]{1,30}$")


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Title = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(_no_control_characters)
]
Description = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_control_characters)]
DisplayName = Annotated[
    str, StringConstraints(min_length=1, max_length=50), AfterValidator(_no_control_characters)
]
Bio = Annotated[str, StringConstraints(max_length=300), AfterValidator(_no_control_characters)]


def normalise_tags(tags: list[str]) -> list[str]:
    """Trim, drop a leading '#', lowercase and deduplicate (first occurrence wins)."""
    seen: dict[str, None] = {}
    for raw in tags:
        tag = raw.strip().removeprefix("#").lower()
        if not _TAG.match(tag):
            raise ValueError(f"tag {raw!r} must be 1-30 letters, digits, '_' or '-'")
        seen.setdefault(tag, None)
    if len(seen) > 10:
        raise ValueError("at most 10 distinct tags")
    return list(seen)
