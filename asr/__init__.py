"""Speech to text for recordings and voice navigation, on vosk (offline). Reserved: nothing here yet."""
