from django.urls import path

from machi.web import views

app_name = "web"

urlpatterns = [
    path("", views.portal_home, name="portal-home"),
    path("m/<str:code>/", views.portal_municipality, name="portal-municipality"),
    path("staff/", views.staff_home, name="staff-home"),
    path("staff/login/", views.staff_login, name="staff-login"),
    path("staff/logout/", views.staff_logout, name="staff-logout"),
    path("staff/audit/", views.staff_audit, name="staff-audit"),
]
