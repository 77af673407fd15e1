"""Issue 14, item 16: digits other than 0-9 (full-width, Arabic-Indic) are refused in every number people
type, on pages and in the API, instead of being read as the number they resemble."""

from __future__ import annotations

import json

import pytest
from django import forms
from django.test import Client

from megalayer.billing.models import Payment
from megalayer.conftest import bearer
from megalayer.core import numbers
from megalayer.ledger.queries import customer_balance

FULL_WIDTH_15 = "\uff11\uff15.00"  # "15.00" in full-width digits
ARABIC_INDIC_15 = "\u0661\u0665"


def _project_forms() -> list[type[forms.BaseForm]]:
    import megalayer.backoffice.urls
    import megalayer.portal.urls  # noqa: F401 (importing the views defines every form)

    found, todo = [], [forms.BaseForm]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("megalayer."):
            found.append(cls)
    return found


def test_every_numeric_field_of_every_form_refuses_foreign_digits():
    checked = 0
    for form in _project_forms():
        for name, field in getattr(form, "base_fields", {}).items():
            if isinstance(field, forms.IntegerField | forms.DecimalField):
                checked += 1
                assert isinstance(field, numbers.IntegerField | numbers.DecimalField), f"{form.__name__}.{name}"
    assert checked >= 10  # the walk found the forms (a stale walk would pass vacuously)


@pytest.mark.django_db
@pytest.mark.parametrize("typed", [FULL_WIDTH_15, ARABIC_INDIC_15])
def test_a_top_up_typed_in_other_digits_is_refused_on_the_page_and_in_the_api(alice, alice_client, settings, typed):
    settings.MEGALAYER_GATEWAYS = ["sandbox"]
    page = alice_client.post("/account/billing/", {"amount": typed, "gateway": "sandbox"})
    assert page.status_code == 200
    assert "Use the digits 0-9." in page.content.decode()
    body = {"amount": {"amount": typed, "currency": "USD"}, "gateway": "sandbox"}
    api = Client().post(
        "/api/v1/balance/top-ups", json.dumps(body), content_type="application/json", **bearer(alice.owner)
    )
    assert (api.status_code, api.json()["errors"][0]["field"]) == (422, "amount.amount")
    assert not Payment.objects.exists()
    assert customer_balance(alice, "USD").amount == 0
