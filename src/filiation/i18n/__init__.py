"""The translations of everything filiation writes for people (see :mod:`filiation.web.i18n`)."""
