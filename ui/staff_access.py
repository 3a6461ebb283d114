"""The web app's role check: the logged-in user of a Gradio request, against the staff accounts' roles."""

from __future__ import annotations

import gradio as gr

from bot.services.staff_accounts import ROLE_LABELS, StaffAccounts, StaffRole


class AccessDeniedError(gr.Error):
    """The logged-in user lacks the role an action needs (shown to them as Gradio's error toast)."""


def user_of(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None


def allows(accounts: StaffAccounts, request: gr.Request | None, role: StaffRole) -> bool:
    """True when the request's logged-in user has `role`."""
    return role in accounts.roles_of(user_of(request))


def require(accounts: StaffAccounts, request: gr.Request | None, role: StaffRole) -> str:
    """The logged-in user's name; raises AccessDeniedError when they lack `role` (every staff action checks)."""
    user = user_of(request)
    if role not in accounts.roles_of(user):
        raise AccessDeniedError(
            f"Akses ditolak: perlu peran {ROLE_LABELS[role]}. / Access denied: needs the {role} role."
        )
    return str(user)
