"""factory_boy factories for core models."""

from __future__ import annotations

import factory
from django_otp.plugins.otp_totp.models import TOTPDevice

from machi.core.models import Department, Membership, Municipality, MunicipalityKind, User

TEST_PASSWORD = "correct-horse-battery-staple"
TEST_TOTP_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test secret


class PrefectureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Municipality
        django_get_or_create = ("code",)

    code = "280003"
    name = "兵庫県"
    name_kana = "ひょうごけん"
    kind = MunicipalityKind.PREFECTURE
    prefecture = None


class MunicipalityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Municipality
        django_get_or_create = ("code",)

    code = "282103"
    name = "加古川市"
    name_kana = "かこがわし"
    kind = MunicipalityKind.CITY
    prefecture = factory.SubFactory(PrefectureFactory)


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    municipality = factory.SubFactory(MunicipalityFactory)
    code = factory.Sequence(lambda n: f"dept{n}")
    name = factory.Sequence(lambda n: f"課{n}")


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    display_name = factory.LazyAttribute(lambda o: o.username)
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.jp")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def totp(obj: User, create: bool, extracted: object, **kwargs: object) -> None:  # noqa: N805
        if create:
            obj.save()
            TOTPDevice.objects.get_or_create(
                user=obj, name="default", defaults={"key": TEST_TOTP_KEY, "confirmed": True}
            )


def staff_member(username: str, municipality: Municipality, role: str) -> User:
    """A staff user with a TOTP device and one role in ``municipality``."""
    user = UserFactory.create(username=username)
    Membership.objects.get_or_create(user=user, municipality=municipality, role=role)
    return user
