"""Forms of the account pages: sign-up with the Terms, billing profile."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest

from megalayer.accounts import hooks
from megalayer.accounts.actions import customer_signup_complete
from megalayer.accounts.models import BillingProfile, User
from megalayer.core import numbers
from megalayer.terms.actions import terms_accept
from megalayer.terms.middleware import request_info
from megalayer.terms.models import TermsAcceptance, TermsVersion
from megalayer.terms.queries import current_version


class SignupForm(forms.Form):
    """Allauth's sign-up plus the required acceptance of the Terms in force (TOS-ACCEPT-1).

    The form carries the version the customer was shown; if a newer version
    came into force while the form was open, the sign-up is refused with a
    message rather than recording acceptance of a text the customer never saw.
    """

    full_name = forms.CharField(max_length=200, label="Your name")
    terms_version = numbers.IntegerField(widget=forms.HiddenInput)
    accept_terms = forms.BooleanField(
        required=True,
        label="I have read and accept the Terms of Service",
        error_messages={"required": "You must accept the Terms of Service to sign up."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        version = current_version()
        self.fields["terms_version"].initial = version.number if version else None

    def clean_terms_version(self) -> int:
        shown: int = self.cleaned_data["terms_version"]
        version = current_version()
        if version is None:
            raise forms.ValidationError("Sign-up is closed until the Terms of Service are published.")
        if version.number != shown:
            raise forms.ValidationError(
                f"The Terms of Service changed to version {version.number} while you were signing up. "
                "Please read them again and accept."
            )
        return shown

    def signup(self, request: HttpRequest, user: User) -> None:
        info = request_info(request)
        customer = customer_signup_complete(
            user=user, signup_ip=info.ip_address, full_name=self.cleaned_data["full_name"]
        )
        hooks.signed_up.call(request, customer)
        version = TermsVersion.objects.get(number=self.cleaned_data["terms_version"])
        terms_accept(user=user, version=version, method=TermsAcceptance.Method.SIGNUP, request_info=info)


class BillingProfileForm(forms.ModelForm[BillingProfile]):
    class Meta:
        model = BillingProfile
        fields = [
            "name",
            "organisation",
            "address_line1",
            "address_line2",
            "city",
            "postal_code",
            "region",
            "country",
            "tax_id",
        ]
        labels = {"address_line1": "Address", "address_line2": "Address (line 2)", "tax_id": "Tax ID / VAT number"}


class ContactForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField()
    role = forms.ChoiceField(choices=[("billing", "Billing"), ("technical", "Technical"), ("abuse", "Abuse")])


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    scope = forms.ChoiceField(choices=[("read", "Read only"), ("write", "Read and write")])
    expires = forms.TypedChoiceField(
        label="Expires",
        choices=[("30", "in 30 days"), ("90", "in 90 days"), ("365", "in a year"), ("", "never (until revoked)")],
        initial="90",
        required=False,
        coerce=int,
        empty_value=None,
    )
