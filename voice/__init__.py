"""The phone line below its protocols: audio codecs, listening (silence detection, endpoints), the
knowledge base's recognition bias, the IVR dialogue, the protocol-neutral call, the call log and speech
synthesis. The protocol adapters (IVR WebSocket, vosk-server, Asterisk AudioSocket) live in api/voice."""
