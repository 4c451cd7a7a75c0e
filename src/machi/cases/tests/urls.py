"""URLs for the cases tests: the case pages mounted as the lead will mount them, plus the site.

Strings, not imports, so the tests do not depend on machi.urls (a higher layer).
"""

from django.urls import include, path

urlpatterns = [
    path("staff/cases/", include("machi.cases.staff_urls")),
    path("", include("machi.urls")),
]
