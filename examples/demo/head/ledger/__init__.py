"""A tiny ledger: parse transactions, aggregate them per account, render a report."""
