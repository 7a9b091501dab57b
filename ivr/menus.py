"""A caller's way through a tenant's menu tree, moved by the keys they press.

No I/O: the call flow plays what it says over ESL, and ``hotline ivr walk`` prints it, so both follow exactly
the same rules. Keys reach ``press`` already checked (one of ``0-9*#``) or as None for silence.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.ivr import Back, Exit, Ivr, Menu, Repeat, Tenant, ToMenu, ToQueue


@dataclass(frozen=True, slots=True)
class Ask:
    """Play ``before``, then ``prompt``, and wait up to ``timeout_s`` for one key."""

    menu: str
    before: tuple[str, ...]
    prompt: str
    timeout_s: float


class MenuWalk:
    """Where the caller is (a stack, for ``back``), how many tries the current menu has used, and the path taken."""

    def __init__(self, ivr: Ivr, tenant: Tenant) -> None:
        self.ivr = ivr
        self.tenant = tenant
        self.stack = [tenant.menu]
        self.tries = 0
        self.path: list[str] = []

    @property
    def menu(self) -> Menu:
        return self.ivr.menus[self.stack[-1]]

    def start(self, before: tuple[str, ...] = ()) -> Ask:
        self.path.append(f"menu:{self.stack[-1]}")
        return self._ask(before)

    def again(self) -> Ask:
        """Back to the current menu after a self-service step (a ticket lookup)."""
        self.tries = 0
        return self._ask(())

    def press(self, key: str | None) -> Ask | Exit:
        """The caller pressed ``key`` (None: nothing before the timeout)."""
        menu = self.menu
        if key is not None and key in menu.keys:
            self.path.append(f"key:{key}")
            return self._do(menu.keys[key])
        self.path.append("timeout" if key is None else f"invalid:{key}")
        if self.tries < menu.retries:
            self.tries += 1
            return self._ask((menu.timeout_prompt if key is None else menu.invalid,))
        self.path.append("default")
        return self._do(menu.default or ToQueue.model_construct(do="queue", queue=self.tenant.queue))  # both checked at load

    def _do(self, action: object) -> Ask | Exit:
        self.tries = 0
        if isinstance(action, ToMenu):
            self.stack.append(action.menu)
            self.path.append(f"menu:{action.menu}")
        elif isinstance(action, Back):
            if len(self.stack) > 1:
                self.stack.pop()
            self.path.append(f"menu:{self.stack[-1]}")
        elif not isinstance(action, Repeat):
            return action  # type: ignore[return-value]
        return self._ask(())

    def _ask(self, before: tuple[str, ...]) -> Ask:
        menu = self.menu
        return Ask(self.stack[-1], before, menu.prompt, menu.timeout)
