"""The conversation engine: a turn in, a decision out. Channel-agnostic."""
