"""The local Prefect API yuliao runs flows against: temporary, resident, its process, and flow-run bookkeeping."""
