"""The phone line's protocol adapters: Asterisk AudioSocket and vosk-server's protocol (the IVR WebSocket
is api/routes/voice.py). What lies below any protocol (audio, listening, the dialogue, the call) is voice/."""
