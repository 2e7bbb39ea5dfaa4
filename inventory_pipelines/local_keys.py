"""The sandbox's documented keys, which the `staging` and `prod` environments refuse.

The emulators take well-known local credentials (printed by `inventory-sync sandbox up`,
written in the README), so anybody can read them and none is a secret. A process outside
`local` configured with one of them was pointed at the sandbox's settings by mistake (a
copied `.env`, `sandbox-env.json`), or at a real system protected by a key that is public:
it refuses to start that connector, in one line that names the variable and never its value.

The values are repeated here because no product module may import the sandbox; a test checks
that they are every credential the emulators print.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["SANDBOX_KEYS", "refusal", "sandbox_key_variable"]

#: every credential the sandbox documents: Odoo's API key and password, each channel
#: emulator's tokens, keys and secrets, the webhook secrets and the Odoo push token
SANDBOX_KEYS = frozenset(
    {
        "sandbox-api-key",
        "admin",
        "shpat_sandbox_0123456789abcdef0123456789abcdef",
        "ck_sandbox_0000000000000000000000000000000000000000",
        "cs_sandbox_0000000000000000000000000000000000000000",
        "amzn1.application-oa2-client.sandbox0001",
        "amzn1.oa2-cs.v1.sandbox-client-secret-0001",
        "Atzr|sandbox-refresh-token-0001",
        "generic_sandbox_secret_0000000000000000",
        "sandbox-shopify-webhook-secret",
        "sandbox-woocommerce-webhook-secret",
        "sandbox-odoo-webhook-token",
    }
)


def sandbox_key_variable(values: Mapping[str, str | None]) -> str | None:
    """The first variable (name -> value) whose value is one of the sandbox's documented keys,
    or None."""
    for name, value in values.items():
        if value and value.strip() in SANDBOX_KEYS:
            return name
    return None


def refusal(variable: str, environment: str) -> str:
    """The one line that refuses `variable` in `environment` (never its value)."""
    return (
        f"{variable} holds one of the sandbox's documented keys, which {environment} refuses: "
        "set the real credential from your secret store (INVENTORY_ENV=local is the sandbox's)"
    )
