"""Every page title is text. Two pages once had a whole form pasted into ``{% block title %}``: the browser
put it in the tab title and the form (price migration, placing a legal hold) was missing or doubled."""

from __future__ import annotations

import re
from pathlib import Path

import megalayer

TITLE = re.compile(r"\{%\s*block title\s*%\}(.*?)\{%\s*endblock", re.S)


def test_no_page_title_holds_markup() -> None:
    root = Path(megalayer.__file__).parent
    templates = sorted(root.glob("**/templates/**/*.html"))
    assert len(templates) > 50
    offenders = [
        f"{path.relative_to(root)}: {title.strip()[:60]}"
        for path in templates
        for title in TITLE.findall(path.read_text())
        if "<" in title or "\n" in title.strip()
    ]
    assert offenders == []
