"""The voice channel: telephony audio in, the engine's decisions spoken back (IVR, vosk protocol, AudioSocket)."""
