"""Call recording: both legs of every answered call, referenced from the call record."""
