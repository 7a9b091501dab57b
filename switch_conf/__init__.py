"""FreeSWITCH configuration rendered from the engine's settings, so the two can never disagree."""
