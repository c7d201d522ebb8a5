"""The Store: what waypost does with its database, as domain operations.

The queries are written once in SQLAlchemy Core for both databases, grouped
by concern (``accounts``, ``subscriptions``, ``deliveries``, ``history``,
``catalog``, ``auth_methods``, ``dashboard``); what must differ between the two,
such as how due deliveries are claimed, the store asks of its dialect
(``sqlite.py``, ``postgres.py``).
"""

from __future__ import annotations

from waypost.store.accounts import AccountQueries
from waypost.store.api_clients import ApiClientQueries
from waypost.store.auth_methods import AuthMethodQueries
from waypost.store.catalog import CatalogQueries
from waypost.store.dashboard import DashboardQueries
from waypost.store.deliveries import DeliveryQueries
from waypost.store.history import HistoryQueries
from waypost.store.queue_stats import QueueStatsQueries
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
    QueueStatsQueries,
):
    """Every query waypost runs, on either database. Use ``open_store`` to open one for a URL."""
