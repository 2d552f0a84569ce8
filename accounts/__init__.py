"""People and machines that sign in: accounts, their roles and regions, passwords and sessions."""
