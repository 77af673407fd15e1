"""The account deletion form of the client area."""

from __future__ import annotations

from typing import Any

from django import forms

from megalayer.accounts.models import User


class AccountDeleteForm(forms.Form):
    """The password again (a session left open must not be enough to delete an account), an explicit
    confirmation, and, when a balance is left, the acknowledgement that it is given up (TOS-BAL-1)."""

    password = forms.CharField(
        label="Your password", widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    confirm = forms.BooleanField(
        label="I understand that my account closes now and my personal data is erased after the grace period",
    )
    acknowledge_balance = forms.BooleanField(required=False, label="I give up the balance left on my account")

    def __init__(self, *args: Any, user: User, has_balance: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if not has_balance:
            del self.fields["acknowledge_balance"]

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password
