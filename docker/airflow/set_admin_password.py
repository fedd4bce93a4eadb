#!/usr/bin/env python3
"""Write the admin password into the simple auth manager's passwords file (airflow-init).

Airflow 3's SimpleAuthManager reads user passwords from a JSON file
([core] simple_auth_manager_passwords_file) and generates a random one for any configured user
missing from it. Writing the password from .env first gives a known login. Idempotent; the file
keeps passwords of other users.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lakehouse.platform.airflow_env import set_password


def main() -> int:
    env = os.environ
    missing = [
        name
        for name in (
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
            "LAKEHOUSE_AIRFLOW_ADMIN_USER",
            "LAKEHOUSE_AIRFLOW_ADMIN_PASSWORD",
        )
        if not env.get(name)
    ]
    if missing:
        print(f"set it in .env (see .env.example): {', '.join(missing)}", file=sys.stderr)
        return 2
    user = env["LAKEHOUSE_AIRFLOW_ADMIN_USER"]
    changed = set_password(
        Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]),
        user,
        env["LAKEHOUSE_AIRFLOW_ADMIN_PASSWORD"],
    )
    print(f"admin user {user!r}: password {'set' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
