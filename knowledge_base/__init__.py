"""Answers, their versions and publishing; the retrieval index; seed content."""
