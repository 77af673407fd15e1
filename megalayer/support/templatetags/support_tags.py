from django import template
from django.utils.safestring import SafeString, mark_safe

from megalayer.support.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    """Markdown → sanitised HTML (``support.markdown``); safe to mark as such only because nh3 cleaned it."""
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitised by nh3 right above
