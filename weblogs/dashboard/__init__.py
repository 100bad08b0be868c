"""The dashboards: a static site over the marts, one page per `pages.ALL_PAGES` entry."""

from weblogs.dashboard.pages import ALL_PAGES
from weblogs.dashboard.site import DashboardError, build_site
from weblogs.dashboard.spec import Page

__all__ = ["ALL_PAGES", "DashboardError", "Page", "build_site"]
