"""The human desk: handed-off tickets, the seats that take them, and the category tables they are filed under."""
