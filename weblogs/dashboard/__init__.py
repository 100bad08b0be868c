"""The dashboards: a static site over the marts, one page per `pages.ALL_PAGES` entry."""

from weblogs.dashboard.pages import ALL_PAGES, Page
from weblogs.dashboard.site import DashboardError, build_site

__all__ = ["ALL_PAGES", "DashboardError", "Page", "build_site"]
