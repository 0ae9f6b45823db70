"""``symsync import``: read what Sentry holds and write project files from it.

``read`` reads an organization's projects (in parallel, less those excluded) and renders their
files; ``convert`` turns one project's sources into its file's text, secrets as references;
``write`` writes the files, all or nothing; ``secret_names`` names the variables of the secrets
Sentry does not return. It may import ``apply.secrets``, ``plan``, ``config``, ``sentry`` and
``core``; never ``github`` or ``commands``. This file hands on nothing: importing a package must
not load its modules.
"""
