"""The billing service. Owns billing settings, premiums, invoices per PO number and their lines,
payments and credits."""
