"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """A mistake in the user's input (file, flag, data). Printed as one line, exit 2."""

    exit_code = 2
