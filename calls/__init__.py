"""The call model: every call the engine took and the legs it owns, each leg a state machine fed by the switch.

``legs`` (one leg's states), ``book`` (calls, their legs and records), ``facts`` (what the switch said, read
from ESL events), ``commands`` (what the model asks of the switch), ``record`` (the call's timeline that becomes
its ticket-store record), ``clock`` (the engine's one clock). No I/O here: the engine feeds facts in and carries
commands out, so the same model runs against FreeSWITCH, the double and property tests.
"""
