"""`supportflow mailbox`: the support mailbox over IMAP, read into the same email intake as
`POST /v1/intake/email` (DESIGN "Phone, SMS, mailbox and chat", Decision 20).

`address` parses the command line's mailbox URL, `imap` is the IMAP session
(imapclient), `reader` moves each message through the intake and into
`Processed` or `Rejected`, and `command` is the CLI.
"""
