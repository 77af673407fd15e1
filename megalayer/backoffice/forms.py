"""Staff forms."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from megalayer.terms.policy import default_policy_data


class TermsPublishForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 18}), label="Full text")
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="What changed (sent to customers)")
    update_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    effective_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="UTC")
    policy = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "class": "mono"}),
        label="Policy parameters (JSON)",
        initial=json.dumps(default_policy_data(), indent=2),
    )

    def clean_policy(self) -> dict[str, Any]:
        try:
            value = json.loads(self.cleaned_data["policy"])
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"Not valid JSON: {error.msg} (line {error.lineno}).") from error
        if not isinstance(value, dict):
            raise forms.ValidationError("The policy must be a JSON object.")
        return value
