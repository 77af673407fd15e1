"""Enumerations the Terms themselves define, so that the Terms' policy can be validated against them."""

from __future__ import annotations

from django.db import models


class AbuseCategory(models.TextChoices):
    """The categories of forbidden use (TOS-AUP-1); the abuse desk files every case under one."""

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
