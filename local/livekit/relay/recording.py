"""The simulated recording: egress would write a room's recording to the request's S3 bucket; the relay puts
a small placeholder file there instead (it says what it is), with boto3, under the key egress would use
(`storage_path`), and reports it as egress does; also how egress lists and redacts a request's file outputs.
The upload runs on an executor thread, so nothing here touches the relay's state."""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime
from typing import Any

from livekit.protocol import egress as egress_pb

EGRESS_PLACEHOLDER = "reels-live local relay: placeholder recording, not a real media file"


def _upload_all(
    info: egress_pb.EgressInfo, request: egress_pb.RoomCompositeEgressRequest, ended_at: int
) -> list[egress_pb.FileInfo]:
    return [_upload(info, output, ended_at) for output in _file_outputs(request)]


def _upload(
    info: egress_pb.EgressInfo, output: egress_pb.EncodedFileOutput, ended_at: int
) -> egress_pb.FileInfo:
    """Put the placeholder where egress would put the recording; LiveKit reports the https location."""
    import boto3
    from botocore.config import Config

    if not output.HasField("s3"):
        raise ValueError("the local relay simulates S3 uploads only")
    s3 = output.s3
    key = storage_path(output, info.room_name, info.room_id, datetime.now(UTC))
    content = (
        f"{EGRESS_PLACEHOLDER}\negress_id={info.egress_id}\nroom_name={info.room_name}\n"
        f"room_id={info.room_id}\nstarted_at={info.started_at}\nended_at={ended_at}\n"
    ).encode()
    options: dict[str, Any] = {}
    if s3.region:
        options["region_name"] = s3.region
    if s3.endpoint:
        options["endpoint_url"] = s3.endpoint
    if s3.access_key and s3.secret:
        options.update(aws_access_key_id=s3.access_key, aws_secret_access_key=s3.secret)
        if s3.session_token:
            options["aws_session_token"] = s3.session_token
    if s3.force_path_style:
        options["config"] = Config(s3={"addressing_style": "path"})
    # assume_role_arn is not used: locally the environment's credentials write the bucket.
    client = boto3.session.Session().client("s3", **options)
    extra: dict[str, Any] = {
        "ContentType": "audio/ogg" if output.file_type == egress_pb.EncodedFileType.OGG else "video/mp4",
        "ContentDisposition": s3.content_disposition or "inline",
        "Metadata": {**dict(s3.metadata), "placeholder": "true", "generator": "reels-live-local-relay"},
    }
    if s3.tagging:
        extra["Tagging"] = s3.tagging
    client.put_object(Bucket=s3.bucket, Key=key, Body=content, **extra)
    return egress_pb.FileInfo(
        filename=key,
        started_at=info.started_at,
        ended_at=ended_at,
        duration=max(ended_at - info.started_at, 0),
        size=len(content),
        location=f"https://{s3.bucket}.s3.amazonaws.com/{key}",
    )


def _redact(s3: egress_pb.S3Upload) -> None:
    """What LiveKit does to credentials in the EgressInfo it hands out (webhooks, API answers)."""
    for name, placeholder in (
        ("access_key", "{access_key}"),
        ("secret", "{secret}"),
        ("session_token", "{session_token}"),
        ("assume_role_external_id", "{external_id}"),
    ):
        if getattr(s3, name):
            setattr(s3, name, placeholder)


def _file_outputs(request: egress_pb.RoomCompositeEgressRequest) -> list[egress_pb.EncodedFileOutput]:
    outputs = list(request.file_outputs)
    if request.HasField("file"):
        outputs.append(request.file)
    return outputs


def storage_path(output: egress_pb.EncodedFileOutput, room_name: str, room_id: str, now: datetime) -> str:
    """The object key egress writes: `filepath` with {room_name}, {room_id}, {time}, {utc} replaced, a
    generated name when it is empty or ends in /, and the file type's extension."""
    extension = {egress_pb.EncodedFileType.OGG: ".ogg", egress_pb.EncodedFileType.MP3: ".mp3"}.get(
        output.file_type, ".mp4"
    )
    stamp = now.strftime("%Y-%m-%dT%H%M%S")
    replacements = {
        "{room_name}": room_name,
        "{room_id}": room_id,
        "{time}": stamp,
        "{utc}": now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}",
    }
    path = output.filepath
    trailing_slash = path.endswith("/")
    path = posixpath.normpath(path) if path else ""
    while path.startswith("../"):
        path = path[3:]
    path = "" if path in (".", "..") else path + ("/" if trailing_slash and path else "")
    for placeholder, value in replacements.items():
        path = path.replace(placeholder, value)
    if not path or path.endswith("/"):
        return f"{path}{room_name}-{stamp}{extension}"
    if not path.endswith(extension):
        stem, dot, suffix = path.rpartition(".")
        if dot and "/" not in suffix and f".{suffix}" in (".mp4", ".ogg", ".mp3", ".ts", ".webm"):
            path = stem
        path += extension
    return path
