"""Abuse categories (TOS-AUP-1), report sources and parse outcomes, case statuses."""

from __future__ import annotations

from django.db import models


class Category(models.TextChoices):
    POLITICAL = "political", "Sensitive political use"
    HACKING = "hacking", "Hacking / malware"
    PHISHING = "phishing", "Phishing / fraud"
    ILLEGAL_CONTENT = "illegal_content", "Illegal content"
    COPYRIGHT = "copyright", "Copyright infringement"
    SPAM = "spam", "Spam"
    RETALIATION = "retaliation", "Activity drawing retaliation"
    CRIME = "crime", "Other crimes"
    DOS = "dos", "Denial of service"
    SCANNING = "scanning", "Scanning"
    BRUTE_FORCE = "brute_force", "Brute force"
    NETWORK = "network", "Network interference"
    PYRAMID = "pyramid", "Pyramid scheme"
    OTHER = "other", "Other"


class Source(models.TextChoices):
    MAIL = "mail", "Abuse mailbox"
    API = "api", "API"
    STAFF = "staff", "Staff"


class Parser(models.TextChoices):
    ARF = "arf", "ARF (RFC 5965)"
    XARF = "xarf", "X-ARF v3"
    FREETEXT = "freetext", "Free text"
    NONE = "none", "Not parsed"


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open: waiting for the customer"
    ANSWERED = "answered", "Answered by the customer"
    ESCALATED = "escalated", "Escalated"
    CLOSED = "closed", "Closed"


OPEN_CASE_STATUSES = (CaseStatus.OPEN, CaseStatus.ANSWERED, CaseStatus.ESCALATED)
