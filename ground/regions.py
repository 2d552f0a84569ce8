"""Regions: paths from the province down, e.g. "江苏省/南京市/鼓楼区"."""
from __future__ import annotations

REGION_SEPARATOR = "/"


def region_covers(scope: str, region: str | None) -> bool:
    """Whether an entry scoped to `scope` applies to a caller in `region`.

    Regions are paths from the province down, e.g. "江苏省/南京市/鼓楼区". An empty scope applies
    everywhere; a caller with no known region is served only entries whose scope is province-wide or
    wider (a city's special rule must not be told to someone who may live elsewhere).
    """
    if not scope:
        return True
    if not region:
        return REGION_SEPARATOR not in scope
    return region == scope or region.startswith(scope + REGION_SEPARATOR)


def region_depth(scope: str) -> int:
    """0 for everywhere, 1 for a province, 2 for a city, 3 for a district."""
    return 0 if not scope else scope.count(REGION_SEPARATOR) + 1


_ADMINISTRATIVE_SUFFIXES = ("自治州", "自治县", "特别行政区", "省", "市", "区", "县", "镇", "街道")


def region_place_names(scope: str) -> list[str]:
    """The names a caller may use for the places in a scope, longest first:
    "江苏省/扬州市" → ["江苏省", "扬州市", "江苏", "扬州"]."""
    names: set[str] = set()
    for part in filter(None, scope.split(REGION_SEPARATOR)):
        names.add(part)
        for suffix in _ADMINISTRATIVE_SUFFIXES:
            if part.endswith(suffix) and len(part) - len(suffix) >= 2:
                names.add(part[: -len(suffix)])
                break
    return sorted(names, key=lambda n: (-len(n), n))
