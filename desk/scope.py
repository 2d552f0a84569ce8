"""Which tickets a seat may work: those of its own city, and under 多援一 those of the cities its teams support now
(all of a city's tickets, some categories, or a share). A `TicketScope` is built by desk/support.py and used as a
condition by the queue and "take the next one" (desk/tickets.py)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, true

from ground.regions import REGION_SEPARATOR
from storage.tables import TicketRow


def under(region: str) -> ColumnElement[bool]:
    return (TicketRow.region == region) | TicketRow.region.startswith(region + REGION_SEPARATOR, autoescape=True)


@dataclass(frozen=True)
class Support:
    """One active 多援一 activation as a seat sees it: `city`'s tickets, only these categories (codes and their
    sub-codes; none: all), `share` of them (by ticket sequence)."""
    city: str
    categories: tuple[str, ...] = ()
    share: float = 1.0

    def clause(self) -> ColumnElement[bool]:
        clause = under(self.city)
        if self.categories:
            clause &= or_(*[(TicketRow.category_code == c) | TicketRow.category_code.startswith(c, autoescape=True)
                            for c in self.categories])
        if self.share < 1:
            # by the ticket's sequence, spread (37 is prime to 100) so that consecutive tickets alternate
            clause &= ((TicketRow.id * 37) % 100) < round(self.share * 100)
        return clause


@dataclass(frozen=True)
class TicketScope:
    """The tickets a seat may work: those of its own city (None: none), and those of the cities its teams support
    now (多援一); `everywhere` for an account not limited to a region."""
    own_city: str | None
    supports: tuple[Support, ...] = ()
    everywhere: bool = False

    def clause(self) -> ColumnElement[bool]:
        if self.everywhere:
            return true()
        parts = [under(self.own_city)] if self.own_city else []
        parts += [support.clause() for support in self.supports]
        return or_(*parts) if parts else false()
