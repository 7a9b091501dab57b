"""The engine process: its link to FreeSWITCH, the hub its capabilities plug into, reconciliation with the switch
after every (re)connect, its HTTP API, health and journal, and the demo's simulated people."""
