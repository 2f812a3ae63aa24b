import os
import pwd


def cli_actor(user: str | None) -> str:
    """Who acts from the command line: --user, else the operating-system account."""
    return user or f"cli:{pwd.getpwuid(os.getuid()).pw_name}"
