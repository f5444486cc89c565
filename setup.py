"""The one build step pyproject.toml cannot declare: the gettext catalogs, compiled into the wheel.

The sources stay in `locales/<locale>/LC_MESSAGES/messages.po` at the top of the checkout (where
translators and `pybabel` work on them); a built wheel carries them compiled, as
`runtime/locales/<locale>/LC_MESSAGES/messages.mo`, which is where `runtime/i18n.py` looks first.
An editable install (`pip install -e .`, what scripts/run.py and scripts/test.py make) reads the
checkout's `locales/` instead, so nothing is compiled for it here.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCES = Path(__file__).resolve().parent / "locales"
PACKAGED = ("runtime", "locales")  # where they land in the wheel


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        catalogs = sorted(SOURCES.glob("*/LC_MESSAGES/*.po"))
        if not catalogs:
            raise SystemExit(f"no catalogs under {SOURCES}: the wheel would speak no Chinese")
        for po in catalogs:
            locale = po.parent.parent.name
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=locale)
            mo = Path(self.build_lib, *PACKAGED, locale, "LC_MESSAGES", po.stem + ".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with mo.open("wb") as fh:
                write_mo(fh, catalog)


setup(cmdclass={"build_py": BuildWithCatalogs})
