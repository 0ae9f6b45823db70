"""``symsync import``: read what Sentry holds and write project files from it.

``organization`` reads an organization's projects, converts their sources and writes the files;
``secret_names`` names the variables of the secrets Sentry does not return. It may import
``apply.secrets``, ``plan``, ``config``, ``sentry`` and ``core``; never ``github`` or
``commands``. This file hands on nothing: importing a package must not load its modules.
"""
