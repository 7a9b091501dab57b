"""Speech to text for recordings (质检), on vosk (offline), in worker processes beside the engine."""
