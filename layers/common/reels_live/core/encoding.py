"""URL-safe base64 without padding: the one spelling of cursors and signed link tokens."""

import base64


def b64url_encode(data: bytes) -> str:
    """base64url of `data`, its `=` padding stripped (cursors and tokens travel in URLs)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """The bytes of an unpadded base64url string; raises binascii.Error (a ValueError) when it is not one."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
