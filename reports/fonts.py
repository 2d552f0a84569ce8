"""A CJK font for the reports' charts (matplotlib has none of its own that draws Chinese).

Looked for in order: the configured file (FRONTDOOR_REPORT_FONT), then the Debian packages the project installs
(`fonts-wqy-zenhei`, in .ci/run, the Makefile's hints and deploy/Dockerfile), then Noto CJK. Without one the charts
still render, with boxes for Chinese, and the report says which font it used."""
from __future__ import annotations

from pathlib import Path

KNOWN = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
)


def cjk_font(configured: Path | None = None) -> str | None:
    """Registers the first CJK font found with matplotlib; its family name, or None."""
    import logging

    from matplotlib import font_manager

    # WenQuanYi Zen Hei has one weight (medium): matplotlib says so on every chart unless told to be quiet
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

    for candidate in ([str(configured)] if configured else []) + list(KNOWN):
        if Path(candidate).is_file():
            font_manager.fontManager.addfont(candidate)
            return font_manager.FontProperties(fname=candidate).get_name()
    return None
