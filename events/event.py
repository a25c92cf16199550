"""The base of every event: a frozen, tagged msgspec Struct whose tag is its class name, and its subject."""

from __future__ import annotations

from typing import ClassVar

import msgspec


class Event(msgspec.Struct, frozen=True, tag=True, tag_field="type", kw_only=True):
    """Base of every event; the tag is the class name."""

    # The entity an event is about, "<prefix>:<value of subject_field>" (``dvd:12``), which the
    # audit log filters on; no subject_field: about no one entity; prefix None: the media type.
    subject_prefix: ClassVar[str | None] = ""
    subject_field: ClassVar[str] = ""

    def subject(self) -> str | None:
        """The entity this event is about (``dvd:12``), used to filter the audit log."""
        if not self.subject_field:
            return None
        prefix = self.subject_prefix or self.media_type
        return f"{prefix}:{getattr(self, self.subject_field)}"
