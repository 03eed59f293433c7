"""Conversation logic: the dialogue manager (`flows.dialogue.handle_turn`, interruptions declared in
`flows.interruptions`) and the declarative flow engine (`flows.engine`) that runs the flows written in
`data/flows/*.yml`, one module per step kind (`flows.kinds`). What a turn gets, and the network reads it may
make outside the database transaction, is `flows.turn`."""
