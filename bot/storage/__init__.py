"""Storage: the database and its stores (tickets, interactions, drafts). Knows no service or channel."""
