"""Form base shared by every app's pages: errors tied to their inputs for assistive technology."""

from __future__ import annotations

from django import forms

from machi.core.exceptions import ApplicationError


class AccessibleForm(forms.Form):
    """Ties each field's error list to its input (``aria-describedby``, ``aria-invalid``).

    Templates render the errors of field ``x`` in an element with id ``id_x_error`` and its help
    text with id ``id_x_helptext`` (see ``core/_field.html``).
    """

    def full_clean(self) -> None:
        super().full_clean()
        self.mark_invalid_fields()

    def mark_invalid_fields(self) -> None:
        """Point each invalid input at its error list (also for errors added after cleaning)."""
        for name in self.errors:
            if name not in self.fields:
                continue
            bound = self[name]
            described_by = [f"{bound.auto_id}_error"]
            if self.fields[name].help_text:
                described_by.append(f"{bound.auto_id}_helptext")
            attrs = self.fields[name].widget.attrs
            attrs["aria-describedby"] = " ".join(described_by)
            attrs["aria-invalid"] = "true"

    def add_field_errors(self, field_errors: dict[str, list[str]]) -> None:
        """Show ``{field: [messages]}`` on the matching fields (unknown fields at the top)."""
        for name, messages in field_errors.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        self.mark_invalid_fields()

    def add_application_error(self, error: ApplicationError) -> None:
        """Show a service's refusal on the fields it names, or at the top of the form."""
        known = {k: v for k, v in error.field_errors.items() if k in self.fields}
        if known:
            self.add_field_errors(known)
        else:
            self.add_error(None, str(error.message))
            self.mark_invalid_fields()
