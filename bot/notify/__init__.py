"""Notifications of dossier status changes that reach the citizen after the chat window closes.

`plan` decides, in the status change's transaction, which channels to try in which order; `sender` sends
outside any transaction (the outbox dispatcher's pattern), retries temporary errors and falls back to the
next channel on permanent ones; `report` answers the officers' and admins' questions. The citizen's choice
lives in `preference`, the channel settings in `channels`, the texts and template data in `content`.
"""
