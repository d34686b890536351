"""Xero CRM Bridge: the code shared by every Lambda function of the stack."""
