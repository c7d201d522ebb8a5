"""The Store: what waypost does with its database, as domain operations.

The queries are written once in SQLAlchemy Core for both databases, grouped
by concern (``accounts``, ``subscriptions``, ``deliveries``, ``history``,
``catalog``, ``auth_methods``, ``dashboard``); the dialect
subclasses (``sqlite.py``, ``postgres.py``) add only what must differ, such as
how due deliveries are claimed.
"""

from __future__ import annotations

from waypost.store.accounts import AccountQueries
from waypost.store.api_clients import ApiClientQueries
from waypost.store.auth_methods import AuthMethodQueries
from waypost.store.catalog import CatalogQueries
from waypost.store.dashboard import DashboardQueries
from waypost.store.deliveries import DeliveryQueries
from waypost.store.history import HistoryQueries
from waypost.store.reports import ReportQueries
from waypost.store.subscriptions import SubscriptionQueries


class Store(
    AccountQueries,
    SubscriptionQueries,
    DeliveryQueries,
    HistoryQueries,
    CatalogQueries,
    AuthMethodQueries,
    ReportQueries,
    ApiClientQueries,
    DashboardQueries,
):
    """Every query waypost runs. Use ``open_store`` to get the right subclass for a URL."""
