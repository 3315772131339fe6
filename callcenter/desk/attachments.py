"""Attachments of online submissions: checked against the configured limits, stored by content hash.

The type is judged from the file's first bytes, not from the name or the declared type, so a
script renamed to .png is refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from callcenter.errors import Refusal
from callcenter.workorders.models import WorkOrderAttachment
from callcenter.workorders.settings import WorkOrderSettings

MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)


class AttachmentRefused(Refusal):
    code = 422


@dataclass
class Upload:
    filename: str
    data: bytes


def sniff(data: bytes) -> str:
    for magic, ctype in MAGIC:
        if data.startswith(magic):
            return ctype
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


# Bidi embeddings/overrides/isolates/marks and zero-width characters: "invoice\u202egnp.exe" shows as
# "invoiceexe.png". Dropped, so a name reads as it is stored.
HIDDEN = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def safe_name(name: str) -> str:
    """A file name to store and show: no directories, no control or reordering characters, ≤ 120 chars."""
    name = HIDDEN.sub("", name.encode("utf-8", "replace").decode("utf-8"))
    name = Path(name.replace("\\", "/")).name
    name = re.sub(r"[\x00-\x1f\x7f-\x9f<>:\"/\\|?*]", "_", name).strip(". ") or "file"
    return name[:120]


def _mb(n: int) -> str:
    return f"{n / 1048576:.1f}".rstrip("0").rstrip(".")


def check(uploads: list[Upload], settings: WorkOrderSettings) -> list[tuple[Upload, str]]:
    """Each upload with its sniffed type; refuses too many, too big, empty or unlisted types."""
    uploads = [u for u in uploads if u.filename or u.data]
    if len(uploads) > settings.max_attachments:
        raise AttachmentRefused("too_many_attachments", n=settings.max_attachments)
    out = []
    for u in uploads:
        if not u.data:
            raise AttachmentRefused("attachment_empty", name=safe_name(u.filename))
        if len(u.data) > settings.max_attachment_bytes:
            raise AttachmentRefused("attachment_too_big", name=safe_name(u.filename), n=settings.max_attachment_bytes,
                                    mb=_mb(settings.max_attachment_bytes))
        ctype = sniff(u.data)
        if ctype not in settings.attachment_types:
            raise AttachmentRefused("attachment_type", name=safe_name(u.filename), type=ctype,
                                    allowed=", ".join(settings.attachment_types))
        out.append((u, ctype))
    return out


def store(directory: Path, upload: Upload, ctype: str) -> WorkOrderAttachment:
    """Write the file (named by its SHA-256) and return the row to add to the order."""
    digest = hashlib.sha256(upload.data).hexdigest()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / digest
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(upload.data)
        tmp.replace(path)
    return WorkOrderAttachment(filename=safe_name(upload.filename), content_type=ctype, size_bytes=len(upload.data),
                               sha256=digest, stored_as=digest)
