"""The web service: channels (chat, WeChat, IVR), editor and seat consoles, reports."""
